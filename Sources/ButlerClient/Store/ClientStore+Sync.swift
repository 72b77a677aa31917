import ButlerModel
import Foundation
import GRDB

/// What the sync engine reads and writes in the store; each step is one transaction.
extension ClientStore {
    /// Queued deltas of one record, joined into one: what one push entry carries.
    struct OutboxGroup: Sendable {
        let seqs: [Int64]
        let delta: RecordState
    }

    /// What the store did with one push's answers.
    struct Acknowledgement: Hashable, Sendable {
        /// Deltas the server accepted (now gone from the outbox).
        var accepted = 0
        /// Deltas refused for good (kept, listed, never pushed again), other than replica conflicts.
        var refused = 0
        /// Deltas refused for a reason that can clear: pending again on the next sync.
        var held: [Int64] = []
        /// Deltas of refused joined entries, now marked to be pushed one by one.
        var split = 0
        /// Deltas refused because this device's replica id is shared (``RefusedEdit/replicaConflictCodes``).
        var replicaConflicts = 0
    }

    /// The SQL condition of an outbox row still to be pushed: never refused, or held.
    static let pendingCondition = "(refusal IS NULL OR refusal = 'held')"

    /// The oldest pending deltas, joined per record, bounded by count and encoded size. Deltas
    /// marked `solo` are never joined; those in `skipping` (held earlier in this sync) are left out.
    func pendingGroups(maxDeltas: Int, maxBytes: Int, skipping held: Set<Int64> = []) throws -> [OutboxGroup] {
        try read { db in
            let skipped = "[" + held.sorted().map(String.init).joined(separator: ",") + "]"
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT seq, record_id, delta, solo FROM outbox
                    WHERE \(Self.pendingCondition) AND seq NOT IN (SELECT value FROM json_each(?))
                    ORDER BY seq LIMIT ?
                    """),
                arguments: [skipped, maxDeltas])
            var order: [String] = []
            var groups: [String: (seqs: [Int64], delta: RecordState)] = [:]
            var bytes = 0
            for row in rows {
                let data: Data = row["delta"]
                if bytes + data.count > maxBytes, !order.isEmpty { break }
                bytes += data.count
                let seq: Int64 = row["seq"]
                let solo: Bool = row["solo"]
                // A solo delta is its own entry; the others of a record join into one.
                let key: String = solo ? "#\(seq)" : row["record_id"]
                let delta = try self.unsealed(data)
                if var group = groups[key] {
                    try group.delta.merge(delta)
                    group.seqs.append(seq)
                    groups[key] = group
                } else {
                    order.append(key)
                    groups[key] = ([seq], delta)
                }
            }
            return order.map { OutboxGroup(seqs: groups[$0]!.seqs, delta: groups[$0]!.delta) }
        }
    }

    /// Records the server's answer to one push, in one transaction: drops the accepted deltas;
    /// marks the deltas of a refused *joined* entry to be pushed one by one (the refusal may be
    /// earned by one of them alone); holds a refused single delta whose code is transient
    /// (``RefusedEdit/transientCodes``) and sets aside for good one whose code is final.
    func acknowledge(_ groups: [OutboxGroup], _ response: PushResponse) throws -> Acknowledgement {
        guard response.results.count == groups.count else {
            throw ClientError(.badResponse, "the server answered \(response.results.count) results for \(groups.count) deltas")
        }
        return try write { db in
            var outcome = Acknowledgement()
            for (group, result) in zip(groups, response.results) {
                let placeholders = group.seqs.map { _ in "?" }.joined(separator: ",")
                let seqs = StatementArguments(group.seqs)
                switch result.status {
                case .accepted:
                    try db.execute(sql: "DELETE FROM outbox WHERE seq IN (\(placeholders))", arguments: seqs)
                    outcome.accepted += group.seqs.count
                case .refused where group.seqs.count > 1:
                    try db.execute(sql: "UPDATE outbox SET solo = 1 WHERE seq IN (\(placeholders))", arguments: seqs)
                    outcome.split += group.seqs.count
                case .refused:
                    let code = result.code ?? .refused
                    let transient = RefusedEdit.isTransient(code: code)
                    // The dots as refused: what a discard reports, even after a replica move re-stamps the delta.
                    let dots = group.delta.editDots(limit: DiscardedEdits.maxDots).dots.map(\.description).joined(separator: ",")
                    try db.execute(
                        sql: "UPDATE outbox SET refusal = ?, refused_code = ?, refused_message = ?, refused_dots = ? WHERE seq = ?",
                        arguments: [transient ? "held" : "final", code.rawValue, result.message ?? "", dots, group.seqs[0]])
                    if transient {
                        outcome.held.append(group.seqs[0])
                    } else if RefusedEdit.replicaConflictCodes.contains(code) {
                        outcome.replicaConflicts += 1  // the engine moves to a fresh replica id and pushes it again
                    } else {
                        outcome.refused += 1
                    }
                }
            }
            return outcome
        }
    }

    /// The photo hashes a record refers to.
    static func photoReferences(in state: RecordState) -> Set<String> {
        var found = Set<String>()
        // Only forms and photos refer to photos: the other records' paths are not split at all.
        guard state.type == .inspectionForm || state.type == .photo else { return found }
        for path in state.fields.keys where state.type == .inspectionForm && path.rawValue.hasPrefix("items/") {
            let s = path.segments
            if state.type == .inspectionForm, s.count == 4, s[0] == "items", s[2] == "photos" { found.insert(String(s[3])) }
        }
        if state.type == .photo, let sha = Resolver.resolve("sha256", in: state)?.value?.stringValue { found.insert(sha) }
        return found.filter(Photo.isSHA256)
    }

    /// Photos held here that the server may not have yet.
    ///
    /// A photo whose record the server refused or held back waits with it: uploaded alone, the
    /// bytes would be a photo no record references, which the server counts against the device's
    /// quota and deletes after a week — and this device, having marked it uploaded, would never
    /// send it again.
    func pendingUploads() throws -> [(sha256: String, size: Int64)] {
        try read { db in
            try Row.fetchAll(db.cachedStatement(sql: """
                SELECT sha256, size FROM blobs WHERE state = 'local'
                AND NOT EXISTS (SELECT 1 FROM outbox WHERE refusal IS NOT NULL AND record_id LIKE 'photo:%:' || blobs.sha256)
                ORDER BY sha256
                """)).map { ($0["sha256"], $0["size"]) }
        }
    }

    func setUploaded(_ sha256: String, bytes: Int64, complete: Bool) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE blobs SET uploaded_bytes = ?, state = CASE WHEN ? THEN 'uploaded' ELSE state END WHERE sha256 = ?",
                arguments: [bytes, complete, sha256])
        }
    }

    /// The photos whose bytes are on this device; with `notUploaded`, only those the server may
    /// not have yet.
    public func heldPhotos(notUploaded: Bool = false) throws -> [String] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT sha256 FROM blobs WHERE state \(notUploaded ? "= 'local'" : "!= 'missing'") ORDER BY sha256")
        }
    }

    /// Photos referenced by synced records whose bytes are not here.
    public func missingPhotos() throws -> [String] {
        try read { db in try String.fetchAll(db.cachedStatement(sql: "SELECT sha256 FROM blobs WHERE state = 'missing' ORDER BY sha256")) }
    }

    func setDownloaded(_ sha256: String, size: Int64) throws {
        try write { db in
            try db.execute(sql: "UPDATE blobs SET state = 'uploaded', size = ?, uploaded_bytes = ? WHERE sha256 = ?", arguments: [size, size, sha256])
        }
    }

    func setLastSync(_ date: Date) throws {
        try write { db in try Self.setMeta(db, .lastSync, Timestamp.format(date)) }
    }
}
