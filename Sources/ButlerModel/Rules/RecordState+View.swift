extension RecordState {
    /// The record resolved by its type's rules, as JSON: what every replica shows for this state.
    ///
    /// The shapes are those of `butler form show --json` and the other `show` commands; conformance
    /// vectors compare them byte for byte in canonical form.
    public func resolvedView() throws -> JSONValue {
        switch type {
        case .inspectionForm: try InspectionForm(self).jsonValue
        case .photo: try Photo(self).jsonValue
        case .workOrder: try WorkOrder(self).jsonValue
        case .complaint: try Complaint(self).jsonValue
        case .callback: try CallbackRecord(self).jsonValue
        case .rainDay: try RainDay(self).jsonValue
        case .resident: try Resident(self).jsonValue
        }
    }

    /// The open conflicts of the record, late edits included.
    public func conflicts() throws -> [Conflict] {
        switch type {
        case .inspectionForm: try InspectionForm(self).conflicts
        case .photo: try Photo(self).conflicts
        case .workOrder: try WorkOrder(self).conflicts
        case .complaint: try Complaint(self).conflicts
        case .callback, .rainDay: []
        case .resident: try Resident(self).conflicts
        }
    }
}

extension RecordState {
    /// The rules of the fields that hold a conflict now, one entry per conflicting field.
    ///
    /// Cheap on the hot path: only registers with more than one value are resolved.
    public func conflictRules() -> [ResolutionRule] {
        fields.compactMap { path, register in
            guard register.count > 1, let resolution = Resolver.resolve(path, in: self), resolution.isConflict else { return nil }
            return resolution.rule
        }
    }
}
