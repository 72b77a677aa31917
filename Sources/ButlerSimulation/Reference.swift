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
}
