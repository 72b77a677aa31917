import Foundation

/// The edits a butler or supervisor makes to a form. Each mutates the local state and returns the
/// delta to send; all writes of one edit share its ``EditStamp``.
///
/// Edits the rules forbid locally throw and leave `state` unchanged: content edits to a form this
/// replica knows is submitted (``ModelError/Code/formSubmitted``), unknown checklist items, and
/// status changes out of order.
extension InspectionForm {
    /// Creates a new draft form from `template` for `place` in `zone`.
    public static func create(
        id: RecordID, zone: Zone, template: FormTemplate, place: String, butler: String? = nil, at: Date, stamp: EditStamp
    ) throws -> RecordState {
        try Shape.checkText(.string(place), 200)
        var state = RecordState(id: id, type: .inspectionForm, zone: zone)
        var delta = RecordState(id: id, type: .inspectionForm, zone: zone)
        try delta.merge(state.write("template", .string(template.id), stamp: stamp))
        try delta.merge(state.write("place", .string(place), stamp: stamp))
        try delta.merge(state.write("butler", .string(butler ?? stamp.author.name), stamp: stamp))
        try delta.merge(state.write("createdAt", at.wire, stamp: stamp))
        try delta.merge(state.write("status", FormStatus.initial.jsonValue, stamp: stamp))
        return delta
    }

    /// Sets a checklist item's result, optionally with a note (one edit).
    @discardableResult
    public static func setResult(
        _ state: inout RecordState, item: String, result: ChecklistResult, note: String? = nil,
        template: FormTemplate? = nil, at: Date, stamp: EditStamp
    ) throws -> RecordState {
        try requireEditable(state, item: item, template: template)
        var copy = state
        var delta = RecordState(id: state.id, type: state.type, zone: state.zone)
        try delta.merge(copy.write(try FieldPath("items", item, "result"), .string(result.rawValue), stamp: stamp))
        if let note {
            try delta.merge(try addNote(&copy, item: item, text: note, template: template, at: at, stamp: stamp))
        }
        state = copy
        return delta
    }

    /// Adds a note to an item, or to the form when `item` is `nil`.
    @discardableResult
    public static func addNote(
        _ state: inout RecordState, item: String? = nil, text: String, template: FormTemplate? = nil, at: Date, stamp: EditStamp
    ) throws -> RecordState {
        try requireEditable(state, item: item, template: template)
        let value = Note.value(text: text, at: at)
        try Note.validate(value)
        let id = noteID(state, stamp)
        let path = try item.map { try FieldPath("items", $0, "notes", id) } ?? FieldPath("notes", id)
        return state.write(path, value, stamp: stamp)
    }

    /// Attaches a photo (by SHA-256) to an item. Every attach mints a new dot, also of a photo
    /// already attached: a detach made concurrently elsewhere cannot have seen that dot, so the
    /// photo stays (add-wins, SYNC.md §5). The attach writes over the values it saw, which the
    /// server accepts from any butler (it keeps the evidence; only a detach removes it).
    @discardableResult
    public static func attachPhoto(
        _ state: inout RecordState, item: String, sha256: String, template: FormTemplate? = nil, stamp: EditStamp
    ) throws -> RecordState {
        try requireEditable(state, item: item, template: template)
        try Shape.sha256(.string(sha256))
        return state.add(try FieldPath("items", item, "photos", sha256), true, stamp: stamp)
    }

    /// Detaches a photo this replica has seen attached; a concurrent attach elsewhere survives
    /// (add-wins). Detaching a photo the item does not show is `invalid-value`: nothing to detach.
    @discardableResult
    public static func detachPhoto(_ state: inout RecordState, item: String, sha256: String, stamp: EditStamp) throws -> RecordState {
        try requireEditable(state, item: nil, template: nil)
        let path = try FieldPath("items", item, "photos", sha256)
        guard !state.siblings(path).isEmpty else {
            throw ModelError(.invalidValue, "photo \(sha256) is not attached to item \(item) of \(state.id)")
        }
        return state.write(path, nil, stamp: stamp)
    }

    /// The items a photo is attached to, sorted.
    public static func items(holding sha256: String, in state: RecordState) -> [String] {
        Set(state.fields.keys.compactMap { path -> String? in
            let s = path.segments
            guard s.count == 4, s[0] == "items", s[2] == "photos", s[3] == sha256, !state.siblings(path).isEmpty else { return nil }
            return String(s[1])
        }).sorted()
    }

    /// Sets a plain field (`place` or `weather`).
    @discardableResult
    public static func setField(_ state: inout RecordState, _ name: String, to text: String, stamp: EditStamp) throws -> RecordState {
        guard name == "place" || name == "weather" else {
            throw ModelError(.invalidField, "only place and weather can be set directly, not \(name)")
        }
        try requireEditable(state, item: nil, template: nil)
        try FieldSchema.inspectionForm.field(for: try FieldPath(name))!.validate(.string(text))
        return state.write(try FieldPath(name), .string(text), stamp: stamp)
    }

    /// Raises a rectification notice for a defect; returns the notice id with the delta.
    ///
    /// 001 §4.3.1.1: a notice is raised from a defect the form records on `item` (refused with
    /// ``ModelError/Code/invalidValue`` otherwise), to a responsible party, with a deadline after
    /// `at` (a deadline already past is refused the same way). `description` is optional.
    public static func addNotice(
        _ state: inout RecordState, item: String, party: ResponsibleParty, description: String?, deadline: Date,
        template: FormTemplate? = nil, at: Date, stamp: EditStamp
    ) throws -> (id: String, delta: RecordState) {
        try requireEditable(state, item: item, template: template)
        if let description { try Shape.checkText(.string(description), 2000) }
        let result = Resolver.resolve(try FieldPath("items", item, "result"), in: state)?.value?.stringValue
        guard result == ChecklistResult.defect.rawValue else {
            throw ModelError(
                .invalidValue,
                "item \(item) of \(state.id) is \(result.map { "recorded \($0)" } ?? "not recorded"), not a defect: a rectification notice is raised from a defect (record it with --result defect first)")
        }
        guard deadline > at else {
            throw ModelError(.invalidValue, "the deadline \(Timestamp.format(deadline)) has already passed (now \(Timestamp.format(at))); give a later one")
        }
        let id = noteID(state, stamp)
        var copy = state
        var delta = RecordState(id: state.id, type: state.type, zone: state.zone)
        let base = try FieldPath("notices", id)
        try delta.merge(copy.write(try base.appending("item"), .string(item), stamp: stamp))
        try delta.merge(copy.write(try base.appending("party"), .string(party.rawValue), stamp: stamp))
        if let description {
            try delta.merge(copy.write(try base.appending("description"), .string(description), stamp: stamp))
        }
        try delta.merge(copy.write(try base.appending("deadline"), deadline.wire, stamp: stamp))
        try delta.merge(copy.write(try base.appending("issuedAt"), at.wire, stamp: stamp))
        try delta.merge(copy.write(try base.appending("status"), .string(NoticeStatus.open.rawValue), stamp: stamp))
        state = copy
        return (id, delta)
    }

    /// Moves a rectification notice forward (open → rectified → verified); allowed after submission.
    @discardableResult
    public static func setNoticeStatus(_ state: inout RecordState, notice: String, to status: NoticeStatus, stamp: EditStamp) throws -> RecordState {
        let form = try InspectionForm(state)
        guard let current = form.notices.first(where: { $0.id == notice }) else {
            throw ModelError(.unknownRecord, "form \(state.id) has no rectification notice \(notice)")
        }
        guard status.rank > current.status.rank else {
            throw ModelError(.invalidTransition, "notice \(notice) is \(current.status.rawValue); it cannot go back to \(status.rawValue)")
        }
        return state.write(try FieldPath("notices", notice, "status"), .string(status.rawValue), stamp: stamp)
    }

    /// Submits a draft for review (draft → submitted). Later content edits are refused until reopened.
    @discardableResult
    public static func submit(_ state: inout RecordState, stamp: EditStamp) throws -> RecordState {
        try transition(&state, from: [.draft], to: .submitted, stamp: stamp)
    }

    /// The supervisor's review (submitted → reviewed), with an optional review note.
    @discardableResult
    public static func review(_ state: inout RecordState, note: String? = nil, at: Date, stamp: EditStamp) throws -> RecordState {
        var copy = state
        var delta = try transition(&copy, from: [.submitted], to: .reviewed, stamp: stamp)
        if let note {
            let value = Note.value(text: note, at: at)
            try Note.validate(value)
            try delta.merge(copy.write(try FieldPath("review", "notes", noteID(copy, stamp)), value, stamp: stamp))
        }
        state = copy
        return delta
    }

    /// Adds a supervisor review note without changing the status.
    @discardableResult
    public static func addReviewNote(_ state: inout RecordState, text: String, at: Date, stamp: EditStamp) throws -> RecordState {
        let value = Note.value(text: text, at: at)
        try Note.validate(value)
        return state.write(try FieldPath("review", "notes", noteID(state, stamp)), value, stamp: stamp)
    }

    /// Closes a reviewed form (reviewed → closed).
    @discardableResult
    public static func close(_ state: inout RecordState, stamp: EditStamp) throws -> RecordState {
        try transition(&state, from: [.reviewed], to: .closed, stamp: stamp)
    }

    /// Reopens a submitted, reviewed or closed form: a new round starts as a draft.
    @discardableResult
    public static func reopen(_ state: inout RecordState, stamp: EditStamp) throws -> RecordState {
        let current = try status(of: state)
        guard current.state >= .submitted else {
            throw ModelError(.invalidTransition, "form \(state.id) is a draft; only a submitted, reviewed or closed form can be reopened")
        }
        return state.write("status", FormStatus(state: .draft, round: current.round + 1).jsonValue, stamp: stamp)
    }

    private static func transition(_ state: inout RecordState, from: Set<FormState>, to: FormState, stamp: EditStamp) throws -> RecordState {
        let current = try status(of: state)
        guard from.contains(current.state) else {
            throw ModelError(
                .invalidTransition,
                "form \(state.id) is \(current.state.rawValue) (round \(current.round)); it must be \(from.map(\.rawValue).sorted().joined(separator: " or ")) to become \(to.rawValue)")
        }
        let status = FormStatus(state: to, round: current.round, seen: state.context.covering)
        // What the writer saw of the content goes beside the status (SubmittedContent), so a late
        // edit cannot make the submitted values disappear.
        let snapshot = SubmittedContent.of(state, round: current.round)
        var delta = state.write("status", status.jsonValue, stamp: stamp)
        try delta.merge(state.write("submitted", snapshot, stamp: stamp))
        return delta
    }

    private static func requireEditable(_ state: RecordState, item: String?, template: FormTemplate?) throws {
        let current = try status(of: state)
        if current.state >= .submitted {
            throw ModelError(
                .formSubmitted,
                "form \(state.id) is \(current.state.rawValue) (round \(current.round)); reopen it before editing")
        }
        if let item, let template, template.item(item) == nil {
            throw ModelError(.unknownItem, "template \(template.id) has no item \"\(item)\"")
        }
        if let item { try validateIdentifier(item, kind: "item key", maxLength: 64) }
    }

    /// The resolved status of a form, without resolving the rest of it.
    public static func status(of state: RecordState) throws -> FormStatus {
        guard state.type == .inspectionForm else {
            throw ModelError(.unknownRecord, "\(state.id) is a \(state.type.rawValue), not an inspection form")
        }
        guard let value = Resolver.resolve("status", in: state)?.value else { return .initial }
        return (try? FormStatus(json: value)) ?? .initial
    }

    /// A fresh id for a note or notice: the dot this replica writes next, `replica:counter`.
    static func noteID(_ state: RecordState, _ stamp: EditStamp) -> String {
        state.nextDot(for: stamp.author.replica).description
    }
}
