import Foundation

/// The callbacks (回访记录) to a resident after a repair or a complaint: an append-only list of
/// attempts, from any device, merged into one record per subject.
///
/// 100% of repairs get a callback (001 §4.2.2.3–4); the outcome is derived from the attempts
/// ordered by when they happened, not by when they synced (rule ``ResolutionRule/callbackByTime``).
public struct CallbackRecord: Hashable, Sendable {
    public enum SubjectType: String, CaseIterable, Hashable, Sendable {
        case workOrder = "work-order"
        case complaint
    }

    /// One call, visit, SMS or e-mail to the resident.
    public struct Attempt: Hashable, Sendable {
        public let id: String
        public let at: Date
        public let channel: CallbackChannel
        public let reached: Bool
        public let satisfaction: Satisfaction?
        public let note: String?
        public let author: String
        /// The attempts its author's device held when it was logged: it happened after them,
        /// whatever the clocks say.
        public var after: [String] = []
        /// The complaint handling round it calls back on (complaint callbacks only; 1 when absent).
        public var round: Int?
        /// When it was recorded (its entry's hybrid-logical-clock time). A device's clock passes
        /// every time it has seen, so an `after` naming an attempt recorded later than this one
        /// cannot be true and is ignored: a device cannot jump its own verdict ahead by claiming
        /// to have seen attempts it had not.
        var recorded = HLCTimestamp(millis: 0)

        /// The attempt id without the `@dot` a rewritten attempt's versions carry.
        var baseID: String { id.split(separator: "@").first.map(String.init) ?? id }

        public var jsonValue: JSONValue {
            var o: [String: JSONValue] = [
                "id": .string(id), "at": at.wire, "channel": .string(channel.rawValue), "reached": .bool(reached),
                "satisfaction": satisfaction.map { .string($0.rawValue) } ?? .null, "note": note.map(JSONValue.string) ?? .null,
                "author": .string(author),
            ]
            if let round { o["round"] = .int(Int64(round)) }
            return .object(o)
        }
    }

    /// What the attempts add up to.
    public enum Outcome: String, Hashable, Sendable {
        /// No attempt has reached the resident yet.
        case pending
        /// The latest attempt that reached the resident found them satisfied.
        case satisfied
        /// The latest attempt that reached the resident found them unsatisfied: back to the front desk.
        case unsatisfied
        /// Never reached after ``CallbackRecord/unreachableAfter`` attempts: may be closed (003).
        case unreachable
        /// Closed as unreachable by a person after repeated failed attempts (003).
        case closedUnreachable = "closed-unreachable"

        /// Whether nothing more is expected: a verdict, or closed as unreachable.
        public var isSettled: Bool { self == .satisfied || self == .unsatisfied || self == .closedUnreachable }
    }

    /// Why a callback was closed without a verdict.
    public struct Closing: Hashable, Sendable {
        public let at: Date
        public let note: String?
        public let author: String

        public var jsonValue: JSONValue {
            ["at": at.wire, "reason": "unreachable", "note": note.map(JSONValue.string) ?? .null, "author": .string(author)]
        }
    }

    /// Failed attempts after which an unreachable resident's callback may be closed (003: 3–5).
    public static let unreachableAfter = 3

    /// Verdicts this close to the latest one count as concurrent with it: device clocks drift, so
    /// a few minutes' difference does not say which call came last, and `unsatisfied` then wins.
    public static let tieWindow: TimeInterval = 10 * 60

    /// The most attempts one attempt lists as seen (``Attempt/after``).
    static let maxAfter = 64

    /// How far after its recording an attempt may be dated: a little clock slack, never the future.
    public static let maxDatedAhead: TimeInterval = 10 * 60


    /// Refuses entries in `delta` dated more than ``maxDatedAhead`` after they were recorded (the
    /// hybrid-logical-clock time of their entry): a future-dated attempt would decide the outcome
    /// until that date. The mechanism is the schema's (``FieldSchema/checkDatedValues(_:)``, which
    /// the server runs on every delta it receives), shared with residents' visits.
    public static func checkAttemptTimes(_ delta: RecordState) throws {
        try FieldSchema.of(delta.type).checkDatedValues(delta)  // attempts/*, fixes/*, callbacks/*, visits/* carry maxDatedAhead
    }

    public let id: RecordID
    public let zone: Zone
    public let subjectType: SubjectType?
    public let subject: String?
    /// Attempts ordered by when they happened (ties by id).
    public let attempts: [Attempt]
    /// Set when a person closed the callback as unreachable (003).
    public let closing: Closing?

    /// The callback records among `records`, by the id of the repair or complaint they follow up.
    public static func bySubject(_ records: [RecordState]) -> [String: CallbackRecord] {
        var found: [String: CallbackRecord] = [:]
        for state in records where state.type == .callback {
            if let record = try? CallbackRecord(state), let subject = record.subject { found[subject] = record }
        }
        return found
    }

    /// The record id of the callbacks for `subject`: one record per work order or complaint.
    public static func recordID(for subject: RecordID) throws -> RecordID {
        try RecordID("cb:" + subject.rawValue)
    }

    public init(_ state: RecordState) throws {
        guard state.type == .callback else { throw ModelError(.unknownRecord, "\(state.id) is a \(state.type.rawValue), not a callback record") }
        id = state.id
        zone = state.zone
        var subject: JSONValue?
        var closing: Closing?
        for r in Resolver.resolveAll(state) {
            let s = r.path.segments.map(String.init)
            if s == ["subject"] { subject = r.value }
            if s == ["closed"], let v = r.value, let at = v["at"]?.date, let sibling = r.chosen.first {
                closing = Closing(at: at, note: v["note"]?.stringValue, author: sibling.entry.author)
            }
        }
        // The subject is the one the record's id derives from (`cb:<subject>`): a record naming
        // another subject (a rogue device's) follows nothing up.
        let named = subject?["id"]?.stringValue
        let bound = named.map { state.id.rawValue == RecordIdentity.callbackPrefix + $0 } ?? false
        subjectType = bound ? subject?["type"]?.stringValue.flatMap(SubjectType.init(rawValue:)) : nil
        self.subject = bound ? named : nil
        self.closing = closing
        self.attempts = Self.ordered(Self.attempts(in: state, under: "attempts"))
    }

    /// The attempts written under `key/<id>` in `state`, unordered.
    static func attempts(in state: RecordState, under key: String) -> [Attempt] {
        var attempts: [Attempt] = []
        for r in Resolver.resolveAll(state) {
            let s = r.path.segments.map(String.init)
            // Attempts are written once; should a hostile replica rewrite one concurrently, every version is kept.
            guard s.count == 2, s[0] == key else { continue }
            for sibling in r.siblings {
                let v = sibling.value
                guard let at = v["at"]?.date, let channel = v["channel"]?.stringValue.flatMap(CallbackChannel.init(rawValue:)),
                    let reached = v["reached"]?.boolValue
                else { continue }
                attempts.append(Attempt(
                    id: r.siblings.count == 1 ? s[1] : "\(s[1])@\(sibling.dot)", at: at, channel: channel, reached: reached,
                    satisfaction: v["satisfaction"]?.stringValue.flatMap(Satisfaction.init(rawValue:)),
                    note: v["note"]?.stringValue, author: sibling.entry.author,
                    after: v["after"]?.arrayValue?.compactMap(\.stringValue) ?? [], round: v["round"]?.intValue.map { Int($0) },
                    recorded: sibling.entry.time))
            }
        }
        return attempts
    }

    /// Attempts by when they happened, `at` then id, except that an attempt comes after every
    /// attempt its author had seen (``Attempt/after``): a slow clock cannot put a later call first.
    static func ordered(_ claimed: [Attempt]) -> [Attempt] {
        let attempts = credible(claimed)
        var placed: Set<String> = []
        var remaining = attempts.sorted { ($0.at, $0.id) < ($1.at, $1.id) }
        let present = Set(attempts.map(\.baseID))
        var result: [Attempt] = []
        while !remaining.isEmpty {
            // The earliest attempt whose seen predecessors are all placed; one always exists, as
            // `after` only names attempts that existed before (a forged cycle falls back to time).
            let index = remaining.firstIndex { a in a.after.allSatisfy { placed.contains($0) || !present.contains($0) || $0 == a.baseID } } ?? 0
            let next = remaining.remove(at: index)
            result.append(next)
            placed.insert(next.baseID)
        }
        return result
    }

    /// The attempts with only the `after` claims that can be true: naming an attempt recorded
    /// before this one.
    static func credible(_ attempts: [Attempt]) -> [Attempt] {
        let recorded = Dictionary(attempts.map { ($0.baseID, $0.recorded) }, uniquingKeysWith: { a, b in max(a, b) })
        return attempts.map { attempt in
            var attempt = attempt
            attempt.after = attempt.after.filter { id in recorded[id].map { $0 < attempt.recorded } ?? true }
            return attempt
        }
    }

    /// Every attempt `attempt` happened after, directly or through others.
    func causalPast(of attempt: Attempt) -> Set<String> {
        let byID = Dictionary(attempts.map { ($0.baseID, $0) }, uniquingKeysWith: { a, _ in a })
        var seen: Set<String> = []
        var queue = attempt.after
        while let id = queue.popLast() {
            guard seen.insert(id).inserted, let a = byID[id] else { continue }
            queue += a.after
        }
        return seen
    }

    /// The outcome by rule ``ResolutionRule/callbackByTime``: the latest reached attempt with a
    /// verdict decides, by when it happened; verdicts within ``tieWindow`` of it are concurrent
    /// with it, and if any of them is `unsatisfied`, `unsatisfied` wins.
    public var outcome: Outcome {
        let verdicts = attempts.filter { $0.reached && $0.satisfaction != nil }
        if let last = verdicts.last {
            let tied = tiedVerdicts(with: last, among: verdicts)
            return tied.contains { $0.satisfaction == .unsatisfied } ? .unsatisfied : .satisfied
        }
        let failed = attempts.filter { !$0.reached }.count
        guard failed >= Self.unreachableAfter else { return .pending }
        // A closing counts only once the attempts justify it (003): a `closed` written without
        // them (a rogue or buggy device) settles nothing.
        return closing != nil ? .closedUnreachable : .unreachable
    }

    /// The verdicts concurrent with the deciding one: not in its causal past, and within
    /// ``tieWindow`` of it by the clock.
    func tiedVerdicts(with last: Attempt, among verdicts: [Attempt]) -> [Attempt] {
        let past = causalPast(of: last)
        return verdicts.filter { $0.id == last.id || (!past.contains($0.baseID) && abs(last.at.timeIntervalSince($0.at)) <= Self.tieWindow) }
    }

    /// Why the outcome is what it is, for people.
    public var outcomeExplanation: String {
        switch outcome {
        case .pending:
            return attempts.isEmpty ? "No callback attempt yet." : "\(attempts.count) attempt(s), none reached the resident with a verdict yet."
        case .closedUnreachable:
            return "Closed as unreachable by \(closing?.author ?? "?") at \(closing.map { Timestamp.format($0.at) } ?? "?") after \(attempts.filter { !$0.reached }.count) attempts that did not reach the resident."
        case .unreachable:
            return "The resident was not reached in \(attempts.filter { !$0.reached }.count) attempts; the callback may be closed as unreachable."
        case .satisfied, .unsatisfied:
            let decisive = attempts.filter { $0.reached && $0.satisfaction != nil }
            let latest = decisive.last!.at
            let tied = tiedVerdicts(with: decisive.last!, among: decisive)
            let who = tied.map { "\($0.author) (\($0.channel.rawValue), \($0.satisfaction!.rawValue))" }.joined(separator: ", ")
            let tie = tied.count > 1 ? "; attempts within \(Int(Self.tieWindow / 60)) minutes of each other count as concurrent and unsatisfied wins the tie" : ""
            return "Decided by the latest attempt that reached the resident, at \(Timestamp.format(latest)), by \(who)\(tie)."
        }
    }

    /// Opens the callback record of `subject` (idempotent: every device derives the same id and value).
    public static func create(subject: RecordID, subjectType: SubjectType, zone: Zone, stamp: EditStamp) throws -> RecordState {
        var state = RecordState(id: try recordID(for: subject), type: .callback, zone: zone)
        return state.write("subject", ["type": .string(subjectType.rawValue), "id": .string(subject.rawValue)], stamp: stamp)
    }

    /// Appends one attempt; returns the delta and the attempt's id.
    public static func logAttempt(
        _ state: inout RecordState, at: Date, channel: CallbackChannel, reached: Bool, satisfaction: Satisfaction?, note: String?,
        stamp: EditStamp
    ) throws -> (id: String, delta: RecordState) {
        guard state.type == .callback else { throw ModelError(.unknownRecord, "\(state.id) is not a callback record") }
        return try appendAttempt(&state, under: "attempts", at: at, channel: channel, reached: reached, satisfaction: satisfaction, note: note, round: nil, stamp: stamp)
    }

    /// Writes one attempt at `key/<new id>`: shared by callback records and complaints.
    static func appendAttempt(
        _ state: inout RecordState, under key: String, at: Date, channel: CallbackChannel, reached: Bool, satisfaction: Satisfaction?,
        note: String?, round: Int?, stamp: EditStamp
    ) throws -> (id: String, delta: RecordState) {
        if satisfaction != nil && !reached {
            throw ModelError(.invalidValue, "a satisfaction can only be recorded when the resident was reached")
        }
        var value: [String: JSONValue] = ["at": at.wire, "channel": .string(channel.rawValue), "reached": .bool(reached)]
        if let satisfaction { value["satisfaction"] = .string(satisfaction.rawValue) }
        if let note { value["note"] = .string(note) }
        if let round { value["round"] = .int(Int64(round)) }
        // The attempts this device holds: this one happened after them (ordering by causality).
        let seen = state.fields.keys.filter { $0.segments.count == 2 && $0.segments[0] == key && !state.siblings($0).isEmpty }
            .map { String($0.segments[1]) }.sorted()
        if !seen.isEmpty { value["after"] = .array(seen.suffix(maxAfter).map(JSONValue.string)) }
        try validateAttempt(.object(value))
        let id = state.nextDot(for: stamp.author.replica).description
        return (id, state.write(try FieldPath(key, id), .object(value), stamp: stamp))
    }

    /// Closes the callback as unreachable (003): only once ``unreachableAfter`` attempts failed to
    /// reach the resident and none reached them with a verdict. An attempt that later reaches the
    /// resident still decides the outcome: a verdict outranks a closing.
    public static func closeUnreachable(_ state: inout RecordState, at: Date, note: String?, stamp: EditStamp) throws -> RecordState {
        let record = try CallbackRecord(state)
        guard record.outcome == .unreachable else {
            let failed = record.attempts.filter { !$0.reached }.count
            throw ModelError(
                .invalidTransition,
                record.outcome == .closedUnreachable ? "the callback is already closed as unreachable"
                    : record.outcome.isSettled ? "the resident was reached (\(record.outcome.rawValue)); the callback is not unreachable"
                    : "a callback may be closed as unreachable only after \(unreachableAfter) attempts that did not reach the resident (\(failed) so far)")
        }
        var value: [String: JSONValue] = ["at": at.wire, "reason": "unreachable"]
        if let note { value["note"] = .string(note) }
        try validateClosing(.object(value))
        return state.write("closed", .object(value), stamp: stamp)
    }

    static let validateClosing: @Sendable (JSONValue) throws -> Void = { value in
        let r = try JSONObjectReader(value, path: "closed")
        try Shape.time(try r.value("at"))
        try Shape.oneOf(["unreachable"])(try r.value("reason"))
        if let n = r.members["note"] { try Shape.checkText(n, 2000) }
        for key in r.members.keys where !["at", "reason", "note"].contains(key) {
            throw ModelError(.invalidField, "closed has unknown member \"\(key)\"")
        }
    }

    public var jsonValue: JSONValue {
        [
            "id": .string(id.rawValue), "zone": .string(zone.rawValue),
            "subject": subject.map(JSONValue.string) ?? .null, "subjectType": subjectType.map { .string($0.rawValue) } ?? .null,
            "attempts": .array(attempts.map(\.jsonValue)), "outcome": .string(outcome.rawValue),
            "outcomeRule": .string(ResolutionRule.callbackByTime.rawValue), "explanation": .string(outcomeExplanation),
            "closed": closing?.jsonValue ?? .null,
        ]
    }

    static let validateSubject: @Sendable (JSONValue) throws -> Void = { value in
        let r = try JSONObjectReader(value, path: "subject")
        try Shape.oneOf(SubjectType.allCases.map(\.rawValue))(try r.value("type"))
        _ = try RecordID(try r.string("id"))
        guard r.members.count == 2 else { throw ModelError(.invalidField, "subject has only type and id") }
    }

    static let validateAttempt: @Sendable (JSONValue) throws -> Void = { value in
        let r = try JSONObjectReader(value, path: "attempt")
        try Shape.time(try r.value("at"))
        try Shape.oneOf(CallbackChannel.allCases.map(\.rawValue))(try r.value("channel"))
        _ = try r.bool("reached")
        if let s = r.members["satisfaction"] { try Shape.oneOf(Satisfaction.allCases.map(\.rawValue))(s) }
        if let n = r.members["note"] { try Shape.checkText(n, 2000) }
        if let round = r.members["round"] { try Shape.integer(1...Int64(Complaint.maxRounds))(round) }
        if let after = r.members["after"] {
            guard let ids = after.arrayValue, ids.count <= maxAfter, ids.allSatisfy({ (1...64).contains($0.stringValue?.count ?? 0) }) else {
                throw ModelError(.invalidField, "attempt.after is a list of at most \(maxAfter) attempt ids")
            }
        }
        for key in r.members.keys where !["at", "channel", "reached", "satisfaction", "note", "after", "round"].contains(key) {
            throw ModelError(.invalidField, "attempt has unknown member \"\(key)\"")
        }
    }
}
