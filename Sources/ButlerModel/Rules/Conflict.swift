/// One open conflict in a record: a field whose concurrent values differ, or a late edit.
///
/// It stays listed until someone writes over the field (or, for a late edit, until a review or
/// a new submission has seen it).
public struct Conflict: Hashable, Sendable {
    public struct Value: Hashable, Sendable {
        public let value: JSONValue
        public let author: String
        public let dot: Dot
        public let time: HLCTimestamp

        public init(_ sibling: Sibling) {
            value = sibling.value
            author = sibling.entry.author
            dot = sibling.dot
            time = sibling.entry.time
        }

        public var jsonValue: JSONValue {
            ["value": value, "author": .string(author), "dot": dot.jsonValue, "time": time.jsonValue]
        }
    }

    public let record: RecordID
    public let field: FieldPath
    public let rule: ResolutionRule
    /// Every value, in last-writer order.
    public let values: [Value]
    /// What the rule shows.
    public let chosen: [JSONValue]
    /// A sentence on which rule chose what, and why.
    public let explanation: String
    /// For a late edit: what the round's submission held in the field (empty when it held nothing
    /// there, or the form was submitted by a client that kept no snapshot).
    public let submitted: [JSONValue]

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = [
            "record": .string(record.rawValue), "field": .string(field.rawValue), "rule": .string(rule.rawValue),
            "values": .array(values.map(\.jsonValue)), "chosen": .array(chosen), "explanation": .string(explanation),
        ]
        if rule == .lateEdit { o["submitted"] = .array(submitted) }
        return .object(o)
    }

    /// The conflict a resolved field presents, or `nil` when its values agree.
    public init?(record: RecordID, resolution: Resolution) {
        guard resolution.isConflict else { return nil }
        self.record = record
        field = resolution.path
        rule = resolution.rule
        values = resolution.siblings.map(Value.init)
        chosen = resolution.chosen.map(\.value)
        explanation = Conflict.explain(resolution)
        submitted = []
    }

    init(
        record: RecordID, field: FieldPath, rule: ResolutionRule, values: [Value], chosen: [JSONValue], explanation: String,
        submitted: [JSONValue] = []
    ) {
        self.record = record
        self.field = field
        self.rule = rule
        self.values = values
        self.chosen = chosen
        self.explanation = explanation
        self.submitted = submitted
    }

    static func describe(_ value: JSONValue) -> String {
        if let s = value.stringValue { return "\"\(s)\"" }
        if let state = value["state"]?.stringValue, let round = value["round"]?.intValue { return "\(state) (round \(round))" }
        if let text = value["text"]?.stringValue { return "\"\(text)\"" }
        return value.canonicalString
    }

    static func explain(_ r: Resolution) -> String {
        let list = r.siblings.map { "\(describe($0.value)) by \($0.entry.author)" }.joined(separator: " and ")
        let winner = r.chosen.last.map { "\(describe($0.value)) by \($0.entry.author)" } ?? "nothing"
        switch r.rule {
        case .defectWins:
            return "Concurrent results \(list): defect beats ok beats not-applicable, so \(winner) stands; a reported problem is never erased by a concurrent ok."
        case .notesKeepAll:
            return "Concurrent edits \(list) of the same note: all are kept and shown with their authors."
        case .statusMonotone:
            return "Concurrent statuses \(list): statuses only move forward, so the furthest, \(winner), stands."
        case .lastWriterWins, .appendOnly, .addWins:
            return "Concurrent values \(list): the last writer by hybrid logical clock (replica id breaking ties), \(winner), stands."
        case .lateEdit, .callbackByTime, .unionOfSnapshots, .unresolvedWins:
            return "Concurrent values \(list); \(winner) is shown."
        }
    }
}
