import Foundation

/// A resident's complaint (投诉) and its handling rounds (003 §3–4, 001 §4.2.3).
///
/// Everything about a complaint lives in its one record, so every replica derives the same rounds
/// from the same state:
/// - `fixes/<id>`: append-only `{"round","at","note"?}`: someone fixed the problem of that round;
/// - `callbacks/<id>`: append-only callback attempts (the shape of ``CallbackRecord/Attempt``) with
///   the `round` they call back on;
/// - `approval`: `{"at","round","note"?}`: the project manager's approval, which closes it.
///
/// Rounds are derived, never typed by hand: round 1 opens when the complaint is reported; a round's
/// verdict comes from its callbacks by rule ``ResolutionRule/unresolvedWins`` (any reached,
/// unsatisfied callback of the round makes it `unresolved`, whatever a concurrent one said); an
/// unresolved round sends the problem back to the front desk and opens the next round. The same
/// problem unresolved after two rounds is a major complaint, whatever it was filed as.
///
/// Records written before rounds were derived hold `rounds/<id>` registers (`openedAt`, `fixedAt`,
/// `result`); they are still read, as the rounds in opening order, every `result` they hold
/// counting as a verdict.
public struct Complaint: Hashable, Sendable {
    public enum RoundResult: String, CaseIterable, Hashable, Sendable {
        case resolved, unresolved
    }

    /// The most handling rounds a complaint has (a bound for decoders; far beyond any real case).
    public static let maxRounds = 64

    /// One record that the problem was fixed.
    public struct Fix: Hashable, Sendable {
        public let id: String
        public let round: Int
        public let at: Date
        public let note: String?
        public let author: String

        var jsonValue: JSONValue {
            ["id": .string(id), "round": .int(Int64(round)), "at": at.wire, "note": note.map(JSONValue.string) ?? .null, "author": .string(author)]
        }
    }

    public struct Round: Hashable, Sendable {
        /// The round's number as a string, or the id of a round written before rounds were derived.
        public let id: String
        /// 1, 2, …
        public let number: Int
        public let openedAt: Date?
        /// The earliest recorded fix of this round.
        public let fixedAt: Date?
        public let result: RoundResult?
        /// The callback attempts of this round, ordered by time.
        public let callbacks: [CallbackRecord.Attempt]

        /// Whether its callbacks failed to reach the resident ``CallbackRecord/unreachableAfter``
        /// times and none reached them.
        public var isUnreachable: Bool {
            !callbacks.contains { $0.reached } && callbacks.count >= CallbackRecord.unreachableAfter
        }

        var jsonValue: JSONValue {
            [
                "id": .string(id), "number": .int(Int64(number)), "openedAt": openedAt?.wire ?? .null, "fixedAt": fixedAt?.wire ?? .null,
                "result": result.map { .string($0.rawValue) } ?? .null, "callbacks": .array(callbacks.map(\.jsonValue)),
                "verdictRule": .string(ResolutionRule.unresolvedWins.rawValue),
            ]
        }
    }

    /// The project manager's approval.
    public struct Approval: Hashable, Sendable {
        public let at: Date
        /// The round it approved; a later round (a concurrent "unresolved") makes it stale.
        public let round: Int
        public let note: String?
        public let author: String

        var jsonValue: JSONValue {
            ["at": at.wire, "round": .int(Int64(round)), "note": note.map(JSONValue.string) ?? .null, "author": .string(author)]
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
    /// The resident profile it concerns, when one was named.
    public let resident: String?
    /// Rounds in order; the last one is the current one.
    public let rounds: [Round]
    public let fixes: [Fix]
    public let approval: Approval?
    /// `closedAt` as written before approvals carried their round.
    let legacyClosedAt: Date?
    public let conflicts: [Conflict]

    /// Rounds that ended with the problem unresolved.
    public var unresolvedRounds: Int { rounds.filter { $0.result == .unresolved }.count }

    /// Whether the complaint escalated to major: unresolved after two rounds (001 §4.2.3.7).
    public var isEscalated: Bool { unresolvedRounds >= 2 && level != .major }

    /// The level that applies now: major once escalated.
    public var effectiveLevel: ComplaintLevel? { unresolvedRounds >= 2 ? .major : level }

    /// The round being worked on.
    public var currentRound: Round? { rounds.last }

    /// When the problem was last fixed: the current round's fix.
    public var fixedAt: Date? { rounds.last?.fixedAt }

    /// Whether the approval applies: it approved the current round, and that round was resolved
    /// (or its resident could not be reached). An approval raced by an "unresolved" is stale.
    public var isApproved: Bool {
        guard let approval, let current = rounds.last else { return false }
        return approval.round == current.number && (current.result == .resolved || (current.result == nil && current.isUnreachable))
    }

    /// When it was closed: the project manager's approval.
    public var closedAt: Date? {
        if approval != nil { return isApproved ? approval?.at : nil }
        return legacyClosedAt
    }

    /// Resolved (or unreachable) and waiting for the project manager's approval.
    public var awaitingApproval: Bool {
        guard closedAt == nil, let current = rounds.last else { return false }
        return current.result == .resolved || (current.result == nil && current.isUnreachable)
    }

    /// Where the callbacks after the current round's fix stand: `satisfied` once the round is
    /// resolved, `unreachable` after 3 calls that reached nobody (awaiting the approval), else
    /// `pending`. A complaint written before its callbacks moved into it reads them from its
    /// separate callback record (`legacy`).
    public func callbackOutcome(legacy: CallbackRecord?) -> CallbackRecord.Outcome {
        guard rounds.contains(where: { !$0.callbacks.isEmpty }) else { return legacy?.outcome ?? .pending }
        guard let round = currentRound else { return .pending }
        if round.result == .resolved { return .satisfied }
        return round.isUnreachable ? .unreachable : .pending
    }

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
        var legacy: [(id: String, openedAt: Date?, fixedAt: Date?, results: [RoundResult])] = []
        var fixes: [Fix] = []
        var approval: Approval?
        var conflicts: [Conflict] = []
        for r in Resolver.resolveAll(state) {
            if let c = Conflict(record: state.id, resolution: r) { conflicts.append(c) }
            let s = r.path.segments.map(String.init)
            if s.count == 1 { scalars[s[0]] = r.value }
            if s == ["approval"], let v = r.value, let at = v["at"]?.date, let round = v["round"]?.intValue, let sibling = r.chosen.first {
                approval = Approval(at: at, round: Int(round), note: v["note"]?.stringValue, author: sibling.entry.author)
            }
            if s.count == 2, s[0] == "rounds", let v = r.value {
                // Every concurrent verdict of a legacy round counts, so unresolved still wins.
                let results = r.siblings.compactMap { $0.value["result"]?.stringValue.flatMap(RoundResult.init(rawValue:)) }
                legacy.append((s[1], v["openedAt"]?.date, v["fixedAt"]?.date, results))
            }
            if s.count == 2, s[0] == "fixes" {
                for sibling in r.siblings {
                    guard let round = sibling.value["round"]?.intValue, let at = sibling.value["at"]?.date else { continue }
                    fixes.append(Fix(id: s[1], round: Int(round), at: at, note: sibling.value["note"]?.stringValue, author: sibling.entry.author))
                }
            }
        }
        place = scalars["place"]?.stringValue
        level = scalars["level"]?.stringValue.flatMap(ComplaintLevel.init(rawValue:))
        description = scalars["description"]?.stringValue
        reportedAt = scalars["reportedAt"]?.date
        resident = scalars["resident"]?.stringValue
        legacyClosedAt = scalars["closedAt"]?.date
        self.fixes = fixes.sorted { ($0.at, $0.id) < ($1.at, $1.id) }
        self.approval = approval
        self.conflicts = conflicts
        legacy.sort { ($0.openedAt ?? .distantPast, $0.id) < ($1.openedAt ?? .distantPast, $1.id) }
        rounds = Self.derive(
            reportedAt: reportedAt, legacy: legacy, fixes: self.fixes, callbacks: CallbackRecord.ordered(CallbackRecord.attempts(in: state, under: "callbacks")))
    }

    /// The rounds the fixes and callbacks add up to: round n+1 exists only when round n ended
    /// unresolved, and opens when its first unsatisfied callback happened.
    ///
    /// A device that had not yet seen a round decided files its fix and callback under that round.
    /// What it filed after the decision belongs to the next round: a fix made after round n was
    /// decided is round n+1's, and a callback filed under round n counts for round n+1 once it
    /// follows round n+1's fix. (Such a callback still counts for round n too, where, coming after
    /// the deciding "unsatisfied", it changes nothing.) So a colleague's missed verdict cannot make
    /// two unresolved rounds count as one.
    static func derive(
        reportedAt: Date?, legacy: [(id: String, openedAt: Date?, fixedAt: Date?, results: [RoundResult])], fixes: [Fix],
        callbacks: [CallbackRecord.Attempt]
    ) -> [Round] {
        var built: [(number: Int, id: String, openedAt: Date?, fixedAt: Date?, result: RoundResult?, calls: [CallbackRecord.Attempt])] = []
        var opened = reportedAt
        var carriedFixes: [Fix] = []
        var carriedCalls: [CallbackRecord.Attempt] = []
        for number in 1...maxRounds {
            let old = number <= legacy.count ? legacy[number - 1] : nil
            let roundFixes = fixes.filter { $0.round == number } + carriedFixes
            let fixedAt = (roundFixes.map(\.at) + [old?.fixedAt].compactMap { $0 }).min()
            let adopted = Set(fixedAt.map { fixed in carriedCalls.filter { $0.at >= fixed } } ?? [])
            let filed = callbacks.filter { ($0.round ?? 1) == number || adopted.contains($0) }
            let verdicts = filed.filter(\.reached).compactMap(\.satisfaction).map { $0 == .unsatisfied ? RoundResult.unresolved : .resolved }
                + (old?.results ?? [])
            let result: RoundResult? = verdicts.contains(.unresolved) ? .unresolved : verdicts.contains(.resolved) ? .resolved : nil
            // A round written before rounds were derived opens no earlier than the complaint.
            let openedAt = [old?.openedAt ?? opened, reportedAt].compactMap { $0 }.max()
            built.append((number, old?.id ?? String(number), openedAt, fixedAt, result, filed))
            guard result == .unresolved else { break }
            // Back to the front desk: the next round opens with the first "unsatisfied".
            let decided = filed.first { $0.reached && $0.satisfaction == .unsatisfied }?.at ?? fixedAt ?? openedAt
            opened = decided
            carriedFixes = decided.map { d in roundFixes.filter { $0.at > d } } ?? []
            carriedCalls = carriedCalls.filter { !adopted.contains($0) } + (decided.map { d in filed.filter { $0.at > d } } ?? [])
        }
        // Each callback is shown once, with the last round it counted for.
        var shown: Set<CallbackRecord.Attempt> = []
        var rounds: [Round] = []
        for r in built.reversed() {
            let calls = r.calls.filter { !shown.contains($0) }
            shown.formUnion(calls)
            rounds.insert(Round(id: r.id, number: r.number, openedAt: r.openedAt, fixedAt: r.fixedAt, result: r.result, callbacks: calls), at: 0)
        }
        return rounds
    }

    // MARK: edits

    /// Files a complaint (its first round opens when it was reported); returns the delta.
    public static func create(
        id: RecordID, zone: Zone, place: String, level: ComplaintLevel, description: String, reportedAt: Date, resident: String? = nil,
        stamp: EditStamp
    ) throws -> RecordState {
        var state = RecordState(id: id, type: .complaint, zone: zone)
        var delta = state
        try delta.merge(state.write("place", .string(place), stamp: stamp))
        try delta.merge(state.write("level", .string(level.rawValue), stamp: stamp))
        try delta.merge(state.write("description", .string(description), stamp: stamp))
        try delta.merge(state.write("reportedAt", reportedAt.wire, stamp: stamp))
        if let resident { try delta.merge(state.write("resident", .string(resident), stamp: stamp)) }
        try FieldSchema.complaint.validate(delta)
        return delta
    }

    /// Records that the current round's problem is fixed (at `at`, not before the round opened).
    public static func recordFix(_ state: inout RecordState, at: Date, note: String?, stamp: EditStamp) throws -> (id: String, delta: RecordState) {
        let complaint = try Complaint(state)
        guard complaint.closedAt == nil else { throw ModelError(.invalidTransition, "complaint \(state.id) is closed") }
        let round = try current(complaint)
        if let opened = round.openedAt, at < opened {
            throw ModelError(.invalidValue, "a fix cannot predate its round, which opened \(Timestamp.format(opened))")
        }
        var value: [String: JSONValue] = ["round": .int(Int64(round.number)), "at": at.wire]
        if let note { value["note"] = .string(note) }
        try validateFix(.object(value))
        let id = state.nextDot(for: stamp.author.replica).description
        return (id, state.write(try FieldPath("fixes", id), .object(value), stamp: stamp))
    }

    /// Logs a callback attempt on the current round; it must come after the round's fix.
    public static func logCallback(
        _ state: inout RecordState, at: Date, channel: CallbackChannel, reached: Bool, satisfaction: Satisfaction?, note: String?,
        stamp: EditStamp
    ) throws -> (id: String, delta: RecordState) {
        let complaint = try Complaint(state)
        guard complaint.closedAt == nil else { throw ModelError(.invalidTransition, "complaint \(state.id) is closed") }
        let round = try current(complaint)
        guard let fixed = round.fixedAt else {
            throw ModelError(.invalidTransition, "round \(round.number) of complaint \(state.id) is not fixed yet; call the resident back after the fix")
        }
        if at < fixed { throw ModelError(.invalidValue, "a callback cannot predate the fix it follows (\(Timestamp.format(fixed)))") }
        return try CallbackRecord.appendAttempt(
            &state, under: "callbacks", at: at, channel: channel, reached: reached, satisfaction: satisfaction, note: note, round: round.number,
            stamp: stamp)
    }

    /// The project manager's approval, which closes the complaint: only when the current round is
    /// resolved, or its resident could not be reached after repeated attempts (003).
    public static func approve(_ state: inout RecordState, at: Date, note: String?, stamp: EditStamp) throws -> RecordState {
        let complaint = try Complaint(state)
        guard complaint.closedAt == nil else { throw ModelError(.invalidTransition, "complaint \(state.id) is already closed") }
        let round = try current(complaint)
        guard complaint.awaitingApproval else {
            let why = round.result == .unresolved ? "its round \(round.number) is unresolved"
                : round.fixedAt == nil ? "round \(round.number) is not fixed yet"
                : "no callback of round \(round.number) found the resident satisfied (or failed to reach them \(CallbackRecord.unreachableAfter) times)"
            throw ModelError(.invalidTransition, "complaint \(state.id) cannot be approved: \(why)")
        }
        var value: [String: JSONValue] = ["at": at.wire, "round": .int(Int64(round.number))]
        if let note { value["note"] = .string(note) }
        try validateApproval(.object(value))
        var delta = state.write("approval", .object(value), stamp: stamp)
        // Readers that predate approvals see it closed too.
        try delta.merge(state.write("closedAt", at.wire, stamp: stamp))
        return delta
    }

    private static func current(_ complaint: Complaint) throws -> Round {
        guard let round = complaint.currentRound else {
            throw ModelError(.invalidTransition, "complaint \(complaint.id) has no handling round")
        }
        return round
    }

    // MARK: shapes

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

    /// A fix and an approval have one shape: `{"round","at","note"?}`.
    static func roundStamp(_ name: String) -> @Sendable (JSONValue) throws -> Void {
        { value in
            let r = try JSONObjectReader(value, path: name)
            try Shape.integer(1...Int64(maxRounds))(try r.value("round"))
            try Shape.time(try r.value("at"))
            if let n = r.members["note"] { try Shape.checkText(n, 2000) }
            for key in r.members.keys where !["round", "at", "note"].contains(key) {
                throw ModelError(.invalidField, "\(name) has unknown member \"\(key)\"")
            }
        }
    }

    static let validateFix = roundStamp("fix")
    static let validateApproval = roundStamp("approval")

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id.rawValue), "zone": .string(zone.rawValue), "status": .string(status.rawValue),
            "rounds": .array(rounds.map(\.jsonValue)), "escalated": .bool(isEscalated),
            "conflicts": .array(conflicts.map(\.jsonValue)), "fixes": .array(fixes.map(\.jsonValue)),
            "unresolvedRounds": .int(Int64(unresolvedRounds)), "awaitingApproval": .bool(awaitingApproval),
        ]
        o["place"] = place.map(JSONValue.string) ?? .null
        o["level"] = level.map { .string($0.rawValue) } ?? .null
        o["effectiveLevel"] = effectiveLevel.map { .string($0.rawValue) } ?? .null
        o["description"] = description.map(JSONValue.string) ?? .null
        o["reportedAt"] = reportedAt?.wire ?? .null
        o["closedAt"] = closedAt?.wire ?? .null
        o["resident"] = resident.map(JSONValue.string) ?? .null
        o["approval"] = approval?.jsonValue ?? .null
        return .object(o)
    }
}
