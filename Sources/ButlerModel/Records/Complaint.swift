import Foundation

/// A resident's complaint (投诉) and its handling rounds (003 §3–4, 001 §4.2.3).
///
/// Each round (`rounds/<id>`: `openedAt`, `fixedAt`, `result`) is one attempt to fix the problem;
/// a round whose callback leaves the resident unsatisfied ends `unresolved` and a new round starts.
/// The same problem unresolved after two rounds is a major complaint, whatever it was filed as.
public struct Complaint: Hashable, Sendable {
    public enum RoundResult: String, CaseIterable, Hashable, Sendable {
        case resolved, unresolved
    }

    public struct Round: Hashable, Sendable {
        public let id: String
        public let openedAt: Date?
        public let fixedAt: Date?
        public let result: RoundResult?

        var jsonValue: JSONValue {
            [
                "id": .string(id), "openedAt": openedAt?.wire ?? .null, "fixedAt": fixedAt?.wire ?? .null,
                "result": result.map { .string($0.rawValue) } ?? .null,
            ]
        }
    }

    public enum Status: String, Hashable, Sendable {
        case open, fixed, closed
    }

    public let id: RecordID
    public let zone: Zone
    public let place: String?
    /// The level it was filed at.
    public let level: ComplaintLevel?
    public let description: String?
    public let reportedAt: Date?
    public let closedAt: Date?
    /// Rounds by opening time.
    public let rounds: [Round]
    public let conflicts: [Conflict]

    /// Rounds that ended with the problem unresolved.
    public var unresolvedRounds: Int { rounds.filter { $0.result == .unresolved }.count }

    /// Whether the complaint escalated to major: unresolved after two rounds (001 §4.2.3.7).
    public var isEscalated: Bool { unresolvedRounds >= 2 && level != .major }

    /// The level that applies now: major once escalated.
    public var effectiveLevel: ComplaintLevel? { unresolvedRounds >= 2 ? .major : level }

    /// When the problem was last fixed: the latest round's fix.
    public var fixedAt: Date? { rounds.last?.fixedAt }

    public var status: Status {
        if closedAt != nil { return .closed }
        if let last = rounds.last, last.fixedAt != nil, last.result != .unresolved { return .fixed }
        return .open
    }

    public init(_ state: RecordState) throws {
        guard state.type == .complaint else { throw ModelError(.unknownRecord, "\(state.id) is a \(state.type.rawValue), not a complaint") }
        id = state.id
        zone = state.zone
        var scalars: [String: JSONValue] = [:]
        var rounds: [Round] = []
        var conflicts: [Conflict] = []
        for r in Resolver.resolveAll(state) {
            if let c = Conflict(record: state.id, resolution: r) { conflicts.append(c) }
            let s = r.path.segments.map(String.init)
            if s.count == 1 { scalars[s[0]] = r.value }
            if s.count == 2, s[0] == "rounds", let v = r.value {
                rounds.append(Round(
                    id: s[1], openedAt: v["openedAt"]?.date, fixedAt: v["fixedAt"]?.date,
                    result: v["result"]?.stringValue.flatMap(RoundResult.init(rawValue:))))
            }
        }
        place = scalars["place"]?.stringValue
        level = scalars["level"]?.stringValue.flatMap(ComplaintLevel.init(rawValue:))
        description = scalars["description"]?.stringValue
        reportedAt = scalars["reportedAt"]?.date
        closedAt = scalars["closedAt"]?.date
        self.rounds = rounds.sorted { ($0.openedAt ?? .distantPast, $0.id) < ($1.openedAt ?? .distantPast, $1.id) }
        self.conflicts = conflicts
    }

    /// Files a complaint and opens its first round; returns the delta.
    public static func create(
        id: RecordID, zone: Zone, place: String, level: ComplaintLevel, description: String, reportedAt: Date, stamp: EditStamp
    ) throws -> RecordState {
        var state = RecordState(id: id, type: .complaint, zone: zone)
        var delta = state
        try delta.merge(state.write("place", .string(place), stamp: stamp))
        try delta.merge(state.write("level", .string(level.rawValue), stamp: stamp))
        try delta.merge(state.write("description", .string(description), stamp: stamp))
        try delta.merge(state.write("reportedAt", reportedAt.wire, stamp: stamp))
        try delta.merge(openRound(&state, at: reportedAt, stamp: stamp).delta)
        try FieldSchema.complaint.validate(delta)
        return delta
    }

    /// Opens a new handling round (after an unsatisfied callback sends it back to the front desk).
    public static func openRound(_ state: inout RecordState, at: Date, stamp: EditStamp) throws -> (id: String, delta: RecordState) {
        let id = state.nextDot(for: stamp.author.replica).description
        let delta = state.write(try FieldPath("rounds", id), ["openedAt": at.wire], stamp: stamp)
        return (id, delta)
    }

    /// Records that the current round's fix is done.
    @discardableResult
    public static func recordFix(_ state: inout RecordState, at: Date, stamp: EditStamp) throws -> RecordState {
        let round = try currentRound(state)
        var value: [String: JSONValue] = ["openedAt": round.openedAt?.wire ?? at.wire, "fixedAt": at.wire]
        if let result = round.result { value["result"] = .string(result.rawValue) }
        return state.write(try FieldPath("rounds", round.id), .object(value), stamp: stamp)
    }

    /// Ends the current round with the resident's verdict after the callback.
    @discardableResult
    public static func recordResult(_ state: inout RecordState, _ result: RoundResult, stamp: EditStamp) throws -> RecordState {
        let round = try currentRound(state)
        var value: [String: JSONValue] = ["result": .string(result.rawValue)]
        if let opened = round.openedAt { value["openedAt"] = opened.wire }
        if let fixed = round.fixedAt { value["fixedAt"] = fixed.wire }
        return state.write(try FieldPath("rounds", round.id), .object(value), stamp: stamp)
    }

    /// Closes the complaint (the project manager's approval).
    @discardableResult
    public static func close(_ state: inout RecordState, at: Date, stamp: EditStamp) throws -> RecordState {
        state.write("closedAt", at.wire, stamp: stamp)
    }

    private static func currentRound(_ state: RecordState) throws -> Round {
        guard let round = try Complaint(state).rounds.last else {
            throw ModelError(.invalidTransition, "complaint \(state.id) has no handling round")
        }
        return round
    }

    static let validateRound: @Sendable (JSONValue) throws -> Void = { value in
        let r = try JSONObjectReader(value, path: "round")
        for key in r.members.keys {
            switch key {
            case "openedAt", "fixedAt": try Shape.time(r.members[key]!)
            case "result": try Shape.oneOf(RoundResult.allCases.map(\.rawValue))(r.members[key]!)
            default: throw ModelError(.invalidField, "round has unknown member \"\(key)\"")
            }
        }
    }

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id.rawValue), "zone": .string(zone.rawValue), "status": .string(status.rawValue),
            "rounds": .array(rounds.map(\.jsonValue)), "escalated": .bool(isEscalated),
            "conflicts": .array(conflicts.map(\.jsonValue)),
        ]
        o["place"] = place.map(JSONValue.string) ?? .null
        o["level"] = level.map { .string($0.rawValue) } ?? .null
        o["effectiveLevel"] = effectiveLevel.map { .string($0.rawValue) } ?? .null
        o["description"] = description.map(JSONValue.string) ?? .null
        o["reportedAt"] = reportedAt?.wire ?? .null
        o["closedAt"] = closedAt?.wire ?? .null
        return .object(o)
    }
}

