import ButlerModel
import Foundation

/// A second, small implementation of the sync semantics, written from `Protocol/SYNC.md` and
/// sharing no logic with ButlerModel's join or resolver: it reads a delta's raw entries and
/// context and keeps its own dot store. The simulation feeds it every delta the server accepted
/// and, at the end, compares the server's records with it and the model's resolved views with its
/// own resolution.
struct ReferenceStore {
    /// One record: the entries per field, and every dot it has seen (§1: vector plus cloud).
    struct Record {
        var vector: [ReplicaID: UInt64] = [:]
        var cloud: Set<Dot> = []
        var entries: [FieldPath: [Dot: FieldEntry]] = [:]

        func hasSeen(_ dot: Dot) -> Bool { dot.counter <= vector[dot.replica, default: 0] || cloud.contains(dot) }

        /// §3, the join: an entry survives unless the other side has seen its dot and does not hold it.
        mutating func join(_ delta: RecordState) {
            let theirVector = delta.context.vector.counters
            let theirCloud = delta.context.cloud
            func theySaw(_ dot: Dot) -> Bool { dot.counter <= theirVector[dot.replica, default: 0] || theirCloud.contains(dot) }
            var joined: [FieldPath: [Dot: FieldEntry]] = [:]
            for path in Set(entries.keys).union(delta.fields.keys) {
                let mine = entries[path] ?? [:]
                let theirs = delta.fields[path] ?? [:]
                var kept: [Dot: FieldEntry] = [:]
                for (dot, entry) in mine where theirs[dot] != nil || !theySaw(dot) { kept[dot] = entry }
                for (dot, entry) in theirs where mine[dot] != nil || !hasSeen(dot) { kept[dot] = entry }
                if !kept.isEmpty { joined[path] = kept }
            }
            entries = joined
            for (replica, counter) in theirVector { vector[replica] = max(vector[replica, default: 0], counter) }
            cloud.formUnion(theirCloud)
        }
    }

    private(set) var records: [RecordID: Record] = [:]

    mutating func accept(_ delta: RecordState) {
        records[delta.id, default: Record()].join(delta)
    }

    // MARK: resolution (§5), on the reference's own entries

    /// `defect-wins`: defect > ok > na, whatever the clocks say.
    static func itemResult(_ siblings: [FieldEntry]) -> String? {
        let values = Set(siblings.compactMap { $0.value.stringValue })
        return ["defect", "ok", "na"].first { values.contains($0) }
    }

    /// `status-monotone` for a form: the highest `(round, state)`.
    static func formStatus(_ siblings: [FieldEntry]) -> (round: Int64, state: String)? {
        let order = ["draft", "submitted", "reviewed", "closed"]
        return siblings.compactMap { entry -> (Int64, String)? in
            guard let round = entry.value["round"]?.intValue, let state = entry.value["state"]?.stringValue, order.contains(state) else { return nil }
            return (round, state)
        }.max { ($0.0, order.firstIndex(of: $0.1)!) < ($1.0, order.firstIndex(of: $1.1)!) }
    }

    /// The last segments of the paths directly under `prefix` that hold any entry: the notes shown
    /// (`notes-keep-all`) or the photos attached (`add-wins`).
    static func keys(_ record: Record, under prefix: [String]) -> Set<String> {
        Set(record.entries.compactMap { path, entries -> String? in
            let s = path.segments.map(String.init)
            guard !entries.isEmpty, s.count == prefix.count + 1, Array(s.prefix(prefix.count)) == prefix else { return nil }
            return s.last
        })
    }

    /// The dots `cause` covers that `context` has not seen (§1: vector plus cloud).
    static func unseen(_ cause: CausalContext, by context: CausalContext) -> [Dot] {
        var missing: [Dot] = []
        for (replica, counter) in cause.vector.counters where counter > context.vector.counters[replica, default: 0] {
            // Every dot of the range must be in the other's cloud.
            let from = context.vector.counters[replica, default: 0] + 1
            for n in from...counter {
                if let dot = try? Dot(replica, n), !context.cloud.contains(dot) {
                    missing.append(dot)
                    break
                }
            }
        }
        for dot in cause.cloud where dot.counter > context.vector.counters[dot.replica, default: 0] && !context.cloud.contains(dot) {
            missing.append(dot)
        }
        return missing.sorted()
    }

    /// One callback attempt as §5.3 reads it.
    struct Attempt {
        let id: String
        let at: Date
        let time: HLCTimestamp
        let reached: Bool
        let satisfaction: String?
        let after: [String]
        let round: Int64?
    }

    static func attempts(_ record: Record, under field: String) -> [Attempt]? {
        var found: [Attempt] = []
        for (path, entries) in record.entries {
            let s = path.segments.map(String.init)
            guard s.count == 2, s[0] == field else { continue }
            // A rewritten attempt (only a faulty replica makes one) is listed twice: not modelled here.
            guard entries.count == 1, let entry = entries.values.first else { return nil }
            guard let at = entry.value["at"]?.stringValue.flatMap(Timestamp.parse), let reached = entry.value["reached"]?.boolValue else { return nil }
            found.append(
                Attempt(
                    id: s[1], at: at, time: entry.time, reached: reached, satisfaction: entry.value["satisfaction"]?.stringValue,
                    after: entry.value["after"]?.arrayValue?.compactMap(\.stringValue) ?? [], round: entry.value["round"]?.intValue))
        }
        return found
    }

    /// §5.3 `callback-by-time`, from the record's own entries: attempts ordered by `at` (then id)
    /// once every attempt named in their `after` is placed (a claim naming an attempt recorded
    /// later is ignored); the last verdict decides unless a verdict within the tie window, not in
    /// its history, says unsatisfied; without a verdict, unreachable after 3 failed attempts, and
    /// closed-unreachable when also closed. `nil` where the reference does not model the record.
    static func callbackOutcome(_ record: Record) -> String? {
        guard let attempts = attempts(record, under: "attempts") else { return nil }
        let byID = Dictionary(attempts.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        func claims(_ a: Attempt) -> [String] {
            a.after.filter { id in byID[id].map { $0.time <= a.time } ?? false }
        }
        var placed: [Attempt] = []
        var done = Set<String>()
        while placed.count < attempts.count {
            let ready = attempts.filter { !done.contains($0.id) && claims($0).allSatisfy(done.contains) }
            // A cycle of claims cannot happen when each names only earlier-recorded attempts; if
            // it did, the rest are placed by time alone.
            let next = (ready.isEmpty ? attempts.filter { !done.contains($0.id) } : ready).min { ($0.at, $0.id) < ($1.at, $1.id) }!
            placed.append(next)
            done.insert(next.id)
        }
        let verdicts = placed.filter { $0.reached && $0.satisfaction != nil }
        if let last = verdicts.last {
            var history = Set<String>()
            var frontier = claims(last)
            while let id = frontier.popLast() {
                guard history.insert(id).inserted, let a = byID[id] else { continue }
                frontier += claims(a)
            }
            let concurrent = verdicts.filter { $0.id != last.id && !history.contains($0.id) && abs($0.at.timeIntervalSince(last.at)) <= 600 }
            return ([last] + concurrent).contains { $0.satisfaction == "unsatisfied" } ? "unsatisfied" : "satisfied"
        }
        let failed = attempts.filter { !$0.reached }.count
        guard failed >= 3 else { return "pending" }
        return record.entries["closed"]?.isEmpty == false ? "closed-unreachable" : "unreachable"
    }

    /// A complaint's reached `unsatisfied` callbacks (§5.6): each can leave at most one round
    /// unresolved, and any leaves at least one.
    static func unsatisfiedCallbacks(_ record: Record) -> Int {
        (attempts(record, under: "callbacks") ?? []).filter { $0.reached && $0.satisfaction == "unsatisfied" }.count
    }
}
