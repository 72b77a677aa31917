import Foundation

/// What a field path means in a record type: its rule and the values it accepts.
///
/// The schema is what lets a server refuse a write to a field that does not exist, or a value of
/// the wrong shape, before anything is stored. Patterns match segment by segment; `*` matches any
/// one segment.
public struct FieldSchema: Sendable {
    public struct Field: Sendable {
        public let pattern: [String]
        public let rule: ResolutionRule
        public let validate: @Sendable (JSONValue) throws -> Void
        /// For an entry whose value claims when it happened (its `at` member): how far after its
        /// recording (the entry's hybrid-logical-clock time) that may be. `nil`: no such claim.
        /// See ``FieldSchema/checkDatedValues(_:)``.
        public let maxDatedAhead: TimeInterval?

        init(pattern: [String], rule: ResolutionRule, validate: @escaping @Sendable (JSONValue) throws -> Void, maxDatedAhead: TimeInterval? = nil) {
            self.pattern = pattern
            self.rule = rule
            self.validate = validate
            self.maxDatedAhead = maxDatedAhead
        }
    }

    public let type: RecordType
    public let fields: [Field]

    /// The field definition for `path`, or `nil` when the type has no such field.
    public func field(for path: FieldPath) -> Field? {
        let segments = path.segments
        return fields.first { field in
            field.pattern.count == segments.count
                && zip(field.pattern, segments).allSatisfy { pattern, segment in pattern == "*" || pattern == segment }
        }
    }

    /// Checks every value of `state` (a delta or full state) against the schema.
    ///
    /// - Throws: ``ModelError/Code/invalidField`` naming the first bad path or value.
    public func validate(_ state: RecordState) throws {
        guard state.type == type else { throw ModelError(.invalidField, "schema of \(type.rawValue) used on a \(state.type.rawValue)") }
        for (path, register) in state.fields {
            guard let field = field(for: path) else {
                throw ModelError(.invalidField, "\(type.rawValue) has no field \(path)")
            }
            for entry in register.values {
                do { try field.validate(entry.value) } catch let error as ModelError {
                    throw ModelError(.invalidField, "\(path): \(error.message)")
                }
            }
        }
    }

    /// The schema of each record type.
    public static func of(_ type: RecordType) -> FieldSchema {
        switch type {
        case .inspectionForm: inspectionForm
        case .photo: photo
        case .workOrder: workOrder
        case .complaint: complaint
        case .callback: callback
        case .rainDay: rainDay
        case .resident: resident
        }
    }

    static let inspectionForm = FieldSchema(type: .inspectionForm, fields: [
        Field(pattern: ["template"], rule: .lastWriterWins, validate: Shape.identifier),
        Field(pattern: ["place"], rule: .lastWriterWins, validate: Shape.text(200)),
        Field(pattern: ["butler"], rule: .lastWriterWins, validate: Shape.text(64)),
        Field(pattern: ["createdAt"], rule: .lastWriterWins, validate: Shape.time),
        Field(pattern: ["weather"], rule: .lastWriterWins, validate: Shape.text(64)),
        Field(pattern: ["status"], rule: .statusMonotone, validate: FormStatus.validate),
        Field(pattern: ["submitted"], rule: .unionOfSnapshots, validate: SubmittedContent.validate),
        Field(pattern: ["items", "*", "result"], rule: .defectWins, validate: Shape.oneOf(ChecklistResult.allCases.map(\.rawValue))),
        Field(pattern: ["items", "*", "notes", "*"], rule: .notesKeepAll, validate: Note.validate),
        Field(pattern: ["items", "*", "photos", "*"], rule: .addWins, validate: Shape.member),
        Field(pattern: ["notes", "*"], rule: .notesKeepAll, validate: Note.validate),
        Field(pattern: ["review", "notes", "*"], rule: .notesKeepAll, validate: Note.validate),
        Field(pattern: ["notices", "*", "item"], rule: .lastWriterWins, validate: Shape.identifier),
        Field(pattern: ["notices", "*", "party"], rule: .lastWriterWins, validate: Shape.oneOf(ResponsibleParty.allCases.map(\.rawValue))),
        Field(pattern: ["notices", "*", "description"], rule: .lastWriterWins, validate: Shape.text(2000)),
        Field(pattern: ["notices", "*", "deadline"], rule: .lastWriterWins, validate: Shape.time),
        Field(pattern: ["notices", "*", "issuedAt"], rule: .lastWriterWins, validate: Shape.time),
        Field(pattern: ["notices", "*", "status"], rule: .statusMonotone, validate: Shape.oneOf(NoticeStatus.allCases.map(\.rawValue))),
        Field(pattern: ["notices", "*", "photos", "before", "*"], rule: .addWins, validate: Shape.member),
        Field(pattern: ["notices", "*", "photos", "after", "*"], rule: .addWins, validate: Shape.member),
        Field(pattern: ["notices", "*", "notes", "*"], rule: .notesKeepAll, validate: Note.validate),
    ])

    static let photo = FieldSchema(type: .photo, fields: [
        Field(pattern: ["sha256"], rule: .lastWriterWins, validate: Shape.sha256),
        Field(pattern: ["bytes"], rule: .lastWriterWins, validate: Shape.integer(0...(1 << 40))),
        Field(pattern: ["mediaType"], rule: .lastWriterWins, validate: Shape.text(100)),
        Field(pattern: ["takenAt"], rule: .lastWriterWins, validate: Shape.time),
        Field(pattern: ["takenBy"], rule: .lastWriterWins, validate: Shape.text(64)),
        Field(pattern: ["caption"], rule: .lastWriterWins, validate: Shape.text(500)),
        Field(pattern: ["attachments", "*", "*"], rule: .addWins, validate: Shape.member),
        Field(pattern: ["attachments", "*", "notices", "*", "before"], rule: .addWins, validate: Shape.member),
        Field(pattern: ["attachments", "*", "notices", "*", "after"], rule: .addWins, validate: Shape.member),
    ])

    static let workOrder = FieldSchema(type: .workOrder, fields: [
        Field(pattern: ["place"], rule: .lastWriterWins, validate: Shape.text(200)),
        Field(pattern: ["category"], rule: .lastWriterWins, validate: Shape.oneOf(RepairCategory.allCases.map(\.rawValue))),
        Field(pattern: ["description"], rule: .lastWriterWins, validate: Shape.text(2000)),
        Field(pattern: ["reportedAt"], rule: .lastWriterWins, validate: Shape.time),
        Field(pattern: ["startedAt"], rule: .lastWriterWins, validate: Shape.time),
        Field(pattern: ["completedAt"], rule: .lastWriterWins, validate: Shape.time),
        Field(pattern: ["source"], rule: .lastWriterWins, validate: Shape.identifier),
    ])

    static let complaint = FieldSchema(type: .complaint, fields: [
        Field(pattern: ["place"], rule: .lastWriterWins, validate: Shape.text(200)),
        Field(pattern: ["level"], rule: .lastWriterWins, validate: Shape.oneOf(ComplaintLevel.allCases.map(\.rawValue))),
        Field(pattern: ["description"], rule: .lastWriterWins, validate: Shape.text(2000)),
        Field(pattern: ["reportedAt"], rule: .lastWriterWins, validate: Shape.time),
        Field(pattern: ["closedAt"], rule: .lastWriterWins, validate: Shape.time),
        Field(pattern: ["resident"], rule: .lastWriterWins, validate: Shape.identifier),
        // Read only: rounds as written before they were derived from fixes and callbacks.
        Field(pattern: ["rounds", "*"], rule: .lastWriterWins, validate: Complaint.validateRound),
        Field(pattern: ["fixes", "*"], rule: .appendOnly, validate: Complaint.validateFix, maxDatedAhead: CallbackRecord.maxDatedAhead),
        Field(pattern: ["callbacks", "*"], rule: .appendOnly, validate: CallbackRecord.validateAttempt, maxDatedAhead: CallbackRecord.maxDatedAhead),
        Field(pattern: ["approval"], rule: .lastWriterWins, validate: Complaint.validateApproval),
    ])

    static let callback = FieldSchema(type: .callback, fields: [
        Field(pattern: ["subject"], rule: .lastWriterWins, validate: CallbackRecord.validateSubject),
        Field(pattern: ["attempts", "*"], rule: .appendOnly, validate: CallbackRecord.validateAttempt, maxDatedAhead: CallbackRecord.maxDatedAhead),
        Field(pattern: ["closed"], rule: .lastWriterWins, validate: CallbackRecord.validateClosing),
    ])

    static let rainDay = FieldSchema(type: .rainDay, fields: [
        Field(pattern: ["reports", "*"], rule: .notesKeepAll, validate: RainDay.validateReport, maxDatedAhead: RainDay.maxDatedAhead),
    ])

    static let resident = FieldSchema(type: .resident, fields: [
        Field(pattern: ["household"], rule: .lastWriterWins, validate: Resident.validateHousehold),
        Field(pattern: ["name"], rule: .lastWriterWins, validate: Shape.text(64)),
        Field(pattern: ["phone"], rule: .lastWriterWins, validate: Resident.validatePhone),
        Field(pattern: ["occupation"], rule: .lastWriterWins, validate: Shape.text(100)),
        Field(pattern: ["pets"], rule: .lastWriterWins, validate: Shape.text(200)),
        Field(pattern: ["needs"], rule: .lastWriterWins, validate: Shape.text(2000)),
        Field(pattern: ["occupied"], rule: .lastWriterWins, validate: Resident.validateOccupied),
        Field(pattern: ["notes", "*"], rule: .notesKeepAll, validate: Note.validate),
        Field(pattern: ["visits", "*"], rule: .appendOnly, validate: Resident.validateVisit, maxDatedAhead: Resident.maxDatedAhead),
    ])
}

/// Value shapes shared by the schemas.
enum Shape {
    static let identifier: @Sendable (JSONValue) throws -> Void = { value in
        guard let s = value.stringValue else { throw ModelError(.invalidField, "must be a string") }
        try validateIdentifier(s, kind: "value", maxLength: 128, allowColon: true)
    }

    static func text(_ maxCharacters: Int) -> @Sendable (JSONValue) throws -> Void {
        { value in try checkText(value, maxCharacters) }
    }

    static func checkText(_ value: JSONValue, _ maxCharacters: Int) throws {
        guard let s = value.stringValue else { throw ModelError(.invalidField, "must be a string") }
        guard s.unicodeScalars.count <= maxCharacters else {
            throw ModelError(.invalidField, "must be at most \(maxCharacters) characters")
        }
    }

    static let time: @Sendable (JSONValue) throws -> Void = { value in
        guard let s = value.stringValue, Timestamp.parse(s) != nil else {
            throw ModelError(.invalidField, "must be a UTC time like 2026-11-23T08:30:00.000Z")
        }
    }

    static func oneOf(_ allowed: [String]) -> @Sendable (JSONValue) throws -> Void {
        { value in
            guard let s = value.stringValue, allowed.contains(s) else {
                throw ModelError(.invalidField, "must be one of \(allowed.joined(separator: ", "))")
            }
        }
    }

    static func integer(_ range: ClosedRange<Int64>) -> @Sendable (JSONValue) throws -> Void {
        { value in
            guard let i = value.intValue, range.contains(i) else {
                throw ModelError(.invalidField, "must be an integer in \(range.lowerBound)…\(range.upperBound)")
            }
        }
    }

    /// A set member is present with the value `true`.
    static let member: @Sendable (JSONValue) throws -> Void = { value in
        guard value == .bool(true) else { throw ModelError(.invalidField, "a set member's value must be true") }
    }

    static let sha256: @Sendable (JSONValue) throws -> Void = { value in
        guard let s = value.stringValue, Photo.isSHA256(s) else {
            throw ModelError(.invalidField, "must be 64 lower-case hex digits")
        }
    }
}
