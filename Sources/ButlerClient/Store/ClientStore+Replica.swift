import ButlerModel
import Foundation
import GRDB

/// Moving a device to a fresh replica id when its own turned out to be shared.
extension ClientStore {
    /// Moves this device to `fresh` (a replica id the server issued to it) and re-stamps every
    /// edit still in the outbox under it, in one transaction; returns how many were re-stamped.
    ///
    /// A store copied onto a second handheld, or restored from an old backup, mints dots the
    /// server already holds with other content; the server refuses those edits (`dot-reused`).
    /// Re-stamping gives each value of each queued delta a new dot of `fresh` (counters continue
    /// from what the record holds of it), maps the delta's causal context the same way (a dot of a
    /// queued edit becomes its new dot; a dot the server already accepted stays), and clears
    /// refusals with a replica-conflict code so they are pushed again. The values, times and
    /// authors do not change: no edit is lost, none is duplicated.
    ///
    /// The local states of the records touched still hold the old dots, which may collide with
    /// the server's; each is marked to be rebuilt at this sync, after the push, as the server's
    /// state joined with the re-stamped deltas (the same rebase as a discarded edit).
    func moveToReplica(_ fresh: ReplicaID) throws -> Int {
        try write { db in
            let old = try Self.identity(db).replica
            guard fresh != old else { return 0 }
            let rows = try Row.fetchAll(db, sql: "SELECT seq, record_id, delta, refused_code FROM outbox ORDER BY seq")
            var next: [RecordID: UInt64] = [:]
            var mapped: [RecordID: [Dot: Dot]] = [:]
            var restamped = 0
            for row in rows {
                let delta = try self.unsealed(row["delta"])
                let id = delta.id
                var counter = try next[id] ?? (self.loadRecord(db, id)?.context.maxCounter(of: fresh) ?? 0)
                var fields: [FieldPath: [Dot: FieldEntry]] = [:]
                for (path, register) in delta.fields.sorted(by: { $0.key < $1.key }) {
                    for (dot, entry) in register.sorted(by: { $0.key < $1.key }) {
                        guard dot.replica == old else {
                            fields[path, default: [:]][dot] = entry
                            continue
                        }
                        counter += 1
                        let renamed = try ClientError.mapping { try Dot(fresh, counter) }
                        mapped[id, default: [:]][dot] = renamed
                        fields[path, default: [:]][renamed] = entry
                    }
                }
                next[id] = counter
                let context = Self.renamed(delta.context, replica: old, mapped[id] ?? [:])
                let moved = try ClientError.mapping { try RecordState(id: id, type: delta.type, zone: delta.zone, context: context, fields: fields) }
                let code: String? = row["refused_code"]
                if let code, RefusedEdit.replicaConflictCodes.contains(code) {
                    try db.execute(
                        sql: "UPDATE outbox SET delta = ?, refusal = NULL, refused_code = NULL, refused_message = NULL WHERE seq = ?",
                        arguments: [try self.sealed(moved), row["seq"] as Int64])
                } else {
                    try db.execute(sql: "UPDATE outbox SET delta = ? WHERE seq = ?", arguments: [try self.sealed(moved), row["seq"] as Int64])
                }
                try db.execute(sql: "INSERT INTO rebase (record_id) VALUES (?) ON CONFLICT(record_id) DO NOTHING", arguments: [id.rawValue])
                restamped += 1
            }
            try Self.setMeta(db, .replica, fresh.rawValue)
            logger.info("moved to a fresh replica id", metadata: ["device.replica": "\(fresh)", "device.previousReplica": "\(old)", "outbox.restamped": "\(restamped)"])
            return restamped
        }
    }

    /// `context` with the dots of `replica` in `map` replaced by their new dots; every other dot kept.
    static func renamed(_ context: CausalContext, replica: ReplicaID, _ map: [Dot: Dot]) -> CausalContext {
        guard context.replicas.contains(replica) else { return context }
        var vector = context.vector
        vector[replica] = 0
        var result = CausalContext(vector: vector, cloud: context.cloud.filter { $0.replica != replica })
        var dots = context.cloud.filter { $0.replica == replica }
        let top = context.vector[replica]
        if top > 0 {
            // Counters are per record and bounded by the server (2²⁰ beyond what it holds), so a
            // record's own range is short.
            for n in 1...top { if let dot = try? Dot(replica, n) { dots.insert(dot) } }
        }
        for dot in dots { result.insert(map[dot] ?? dot) }
        return result
    }
}
