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
        }
    }

    /// The open conflicts of the record, late edits included.
    public func conflicts() throws -> [Conflict] {
        switch type {
        case .inspectionForm: try InspectionForm(self).conflicts
        case .photo: try Photo(self).conflicts
        case .workOrder: try WorkOrder(self).conflicts
        case .complaint: try Complaint(self).conflicts
        case .callback: []
        }
    }
}
