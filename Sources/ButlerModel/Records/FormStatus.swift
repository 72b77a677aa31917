/// The state of an inspection form within one round (巡查登记表状态).
public enum FormState: String, CaseIterable, Hashable, Sendable, Comparable {
    case draft, submitted, reviewed, closed

    public var rank: Int {
        switch self {
        case .draft: 0
        case .submitted: 1
        case .reviewed: 2
        case .closed: 3
        }
    }

    public static func < (lhs: FormState, rhs: FormState) -> Bool { lhs.rank < rhs.rank }
}

/// A form's status: its state, the round (1 at creation, +1 at each reopen), and for states after
/// draft the version vector of the form the writer had seen.
///
/// Statuses are ordered by `(round, state)`: draft < submitted < reviewed < closed within a round,
/// and a reopen starts a new round that is above all of the last one. The `seen` vector is what
/// makes a *late edit* detectable: a content edit whose dot it does not cover was made without
/// knowing of the submission.
public struct FormStatus: Hashable, Sendable {
    public let state: FormState
    public let round: Int
    public let seen: VersionVector?

    public init(state: FormState, round: Int, seen: VersionVector? = nil) {
        self.state = state
        self.round = round
        self.seen = seen
    }

    public static let initial = FormStatus(state: .draft, round: 1)

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = ["state": .string(state.rawValue), "round": .int(Int64(round))]
        if let seen { o["seen"] = seen.jsonValue }
        return .object(o)
    }

    public init(json: JSONValue) throws {
        let r = try JSONObjectReader(json, path: "status")
        guard let state = FormState(rawValue: try r.string("state")) else {
            throw ModelError(.invalidField, "status.state must be one of draft, submitted, reviewed, closed")
        }
        let round = try r.int("round")
        guard (1...1_000_000).contains(round) else { throw ModelError(.invalidField, "status.round must be 1…1000000") }
        self.state = state
        self.round = Int(round)
        self.seen = try r.members["seen"].map(VersionVector.init(json:))
        for key in r.members.keys where !["state", "round", "seen"].contains(key) {
            throw ModelError(.invalidField, "status has unknown member \"\(key)\"")
        }
    }

    static let validate: @Sendable (JSONValue) throws -> Void = { _ = try FormStatus(json: $0) }
}
