import ButlerModel
import Foundation
import GRDB

/// Moving a device to a fresh replica id when its own turned out to be shared.
extension ClientStore {
    /// Whether an edit was refused because this device's replica id is shared: a move is due
    /// (also after a move that a lost connection or a killed process interrupted).
    func needsReplicaMove() throws -> Bool {
        try read { db in
            let codes = RefusedEdit.replicaConflictCodes.map(\.rawValue).sorted()
            return try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM outbox WHERE refusal = 'final' AND refused_code IN (\(codes.map { _ in "?" }.joined(separator: ","))))"),
                arguments: StatementArguments(codes)) ?? false
        }
    }

    /// The records with edits in the outbox.
    func queuedRecordIDs() throws -> [RecordID] {
        try read { db in try String.fetchAll(db, sql: "SELECT DISTINCT record_id FROM outbox ORDER BY record_id").map { try RecordID($0) } }
    }

    /// Moves this device to `fresh` (a replica id the server issued to it) and re-stamps the edits
    /// still in the outbox under it, in one transaction; returns how many were re-stamped.
    ///
    /// A store copied onto a second handheld, or restored from an old backup, mints dots the
    /// server already holds with other content; the server refuses those edits (`dot-reused`, or
    /// `foreign-dot` when another device holds the id). Here, for each queued delta:
    /// - values the server already holds under the same dot, path and content (`server`: its
    ///   states of the records concerned) were delivered, by this device or its twin: they are
    ///   dropped, and a delta left with nothing to say is removed — so nothing is sent twice;
    /// - every other value of the old id gets a new dot of `fresh` (counters continue from what the
    ///   record holds of it), and so do the ids derived from those dots in field paths (a note's or
    ///   notice's `replica:counter`) and a status's `seen` vector;
    /// - its causal context is mapped the same way (a dot of a re-stamped value becomes its new
    ///   dot; a dot the server already accepted stays);
    /// - a refusal with a replica-conflict code is cleared, so the edit is pushed again.
    /// The local record states get the same mapping, joined with the server's states, so the
    /// device shows what it will converge to and its next edits mint after the re-stamped ones.
    /// Values, times and authors do not change: no edit is lost, none is duplicated.
    func moveToReplica(_ fresh: ReplicaID, server: [RecordID: RecordState]) throws -> Int {
        try write { db in
            let old = try Self.identity(db).replica
            guard fresh != old else { return 0 }
            let rows = try Row.fetchAll(db, sql: "SELECT seq, record_id, delta, refused_code FROM outbox ORDER BY seq")
            var next: [RecordID: UInt64] = [:]
            var mapped: [RecordID: [Dot: Dot]] = [:]
            var restamped = 0
            for row in rows {
                let seq: Int64 = row["seq"]
                let delta = try self.unsealed(row["delta"])
                let id = delta.id
                var counter = try next[id] ?? (self.loadRecord(db, id)?.context.maxCounter(of: fresh) ?? 0)
                var map = mapped[id] ?? [:]
                var kept: [(FieldPath, Dot, FieldEntry)] = []
                for (path, register) in delta.fields.sorted(by: { $0.key < $1.key }) {
                    for (dot, entry) in register.sorted(by: { $0.key < $1.key }) {
                        if dot.replica == old, server[id]?.fields[path]?[dot] == entry { continue }  // delivered
                        kept.append((path, dot, entry))
                    }
                }
                if !delta.fields.isEmpty && kept.isEmpty {
                    try db.execute(sql: "DELETE FROM outbox WHERE seq = ?", arguments: [seq])
                    continue
                }
                for (_, dot, _) in kept where dot.replica == old {
                    counter += 1
                    map[dot] = try ClientError.mapping { try Dot(fresh, counter) }
                }
                next[id] = counter
                mapped[id] = map
                let moved = try Self.renamed(delta, replica: old, map, only: Set(kept.map(\.1)))
                let code = (row["refused_code"] as String?).map(ErrorCode.init)
                let clears = code.map(RefusedEdit.replicaConflictCodes.contains) ?? false
                try db.execute(
                    sql: clears
                        ? "UPDATE outbox SET delta = ?, refusal = NULL, refused_code = NULL, refused_message = NULL WHERE seq = ?"
                        : "UPDATE outbox SET delta = ? WHERE seq = ?",
                    arguments: [try self.sealed(moved), seq])
                restamped += 1
            }
            for (id, map) in mapped {
                guard var state = try self.loadRecord(db, id) else { continue }
                state = try Self.renamed(state, replica: old, map, only: nil)
                if let theirs = server[id] { try ClientError.mapping { try state.merge(theirs) } }
                try self.saveRecord(db, state)
            }
            try Self.setMeta(db, .replica, fresh.rawValue)
            logger.info("moved to a fresh replica id", metadata: ["device.replica": "\(fresh)", "device.previousReplica": "\(old)", "outbox.restamped": "\(restamped)"])
            return restamped
        }
    }

    /// `state` with every value whose dot is in `map` moved to its new dot (and to the renamed path
    /// when a path segment is an id derived from a mapped dot), its status `seen` vectors and its
    /// context mapped the same way; values outside `only` (when given) are left out.
    static func renamed(_ state: RecordState, replica: ReplicaID, _ map: [Dot: Dot], only: Set<Dot>?) throws -> RecordState {
        let ids = Dictionary(uniqueKeysWithValues: map.map { ($0.key.description, $0.value.description) })
        var fields: [FieldPath: [Dot: FieldEntry]] = [:]
        for (path, register) in state.fields {
            let renamedPath = try ClientError.mapping {
                try FieldPath(path.segments.map { ids[String($0)] ?? String($0) }.joined(separator: "/"))
            }
            for (dot, entry) in register where only?.contains(dot) ?? true {
                var value = entry.value
                if path.rawValue == "status", let seen = value["seen"], let vector = try? VersionVector(json: seen) {
                    value = Self.renamedSeen(value, vector, replica: replica, map)
                }
                fields[renamedPath, default: [:]][map[dot] ?? dot] = FieldEntry(value: value, time: entry.time, author: entry.author)
            }
        }
        let context = renamed(state.context, replica: replica, map)
        return try ClientError.mapping { try RecordState(id: state.id, type: state.type, zone: state.zone, context: context, fields: fields) }
    }

    /// A status value whose `seen` vector names `replica` up to n: after the move it names the
    /// old id only up to its highest dot not re-stamped, and the fresh id up to the highest new dot
    /// of the re-stamped ones it had seen.
    static func renamedSeen(_ value: JSONValue, _ seen: VersionVector, replica: ReplicaID, _ map: [Dot: Dot]) -> JSONValue {
        let top = seen[replica]
        guard top > 0, case .object(var members) = value else { return value }
        var vector = seen
        var oldTop: UInt64 = 0
        var freshTop: UInt64 = 0
        var fresh: ReplicaID?
        for n in stride(from: top, through: 1, by: -1) {
            guard let dot = try? Dot(replica, n) else { continue }
            if let moved = map[dot] {
                fresh = moved.replica
                freshTop = max(freshTop, moved.counter)
            } else if oldTop == 0 {
                oldTop = n
            }
        }
        vector[replica] = oldTop
        if let fresh { vector[fresh] = max(vector[fresh], freshTop) }
        members["seen"] = vector.jsonValue
        return .object(members)
    }

    /// `context` with the dots of `replica` in `map` replaced by their new dots; every other dot kept.
    static func renamed(_ context: CausalContext, replica: ReplicaID, _ map: [Dot: Dot]) -> CausalContext {
        guard context.replicas.contains(replica), !map.isEmpty else { return context }
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
