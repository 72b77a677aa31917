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

    /// The oldest pending deltas, joined per record, bounded by count and encoded size.
    func pendingGroups(maxDeltas: Int, maxBytes: Int) throws -> [OutboxGroup] {
        try read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT seq, record_id, delta FROM outbox WHERE refused_code IS NULL ORDER BY seq LIMIT ?", arguments: [maxDeltas])
            var order: [String] = []
            var groups: [String: (seqs: [Int64], delta: RecordState)] = [:]
            var bytes = 0
            for row in rows {
                let data: Data = row["delta"]
                if bytes + data.count > maxBytes, !order.isEmpty { break }
                bytes += data.count
                let id: String = row["record_id"]
                let delta = try self.unsealed(data)
                if var group = groups[id] {
                    try group.delta.merge(delta)
                    group.seqs.append(row["seq"])
                    groups[id] = group
                } else {
                    order.append(id)
                    groups[id] = ([row["seq"]], delta)
                }
            }
            return order.map { OutboxGroup(seqs: groups[$0]!.seqs, delta: groups[$0]!.delta) }
        }
    }

    /// Drops the deltas the server accepted and sets aside (never drops) those it refused.
    func acknowledge(_ groups: [OutboxGroup], _ response: PushResponse) throws -> (accepted: Int, refused: Int) {
        guard response.results.count == groups.count else {
            throw ClientError(.badResponse, "the server answered \(response.results.count) results for \(groups.count) deltas")
        }
        return try write { db in
            var accepted = 0
            var refused = 0
            for (group, result) in zip(groups, response.results) {
                let placeholders = group.seqs.map { _ in "?" }.joined(separator: ",")
                switch result.status {
                case .accepted:
                    try db.execute(sql: "DELETE FROM outbox WHERE seq IN (\(placeholders))", arguments: StatementArguments(group.seqs))
                    accepted += group.seqs.count
                case .refused:
                    try db.execute(
                        sql: "UPDATE outbox SET refused_code = ?, refused_message = ? WHERE seq IN (\(placeholders))",
                        arguments: StatementArguments([result.code ?? "refused", result.message ?? ""] as [any DatabaseValueConvertible] + group.seqs))
                    refused += group.seqs.count
                }
            }
            return (accepted, refused)
        }
    }

    /// Edits the server refused, for review: record id, code, message.
    public func refusedEdits() throws -> [(record: String, code: String, message: String)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT record_id, refused_code, refused_message FROM outbox WHERE refused_code IS NOT NULL ORDER BY seq")
                .map { ($0["record_id"], $0["refused_code"], $0["refused_message"]) }
        }
    }

    /// Merges one pulled page and stores its cursor in the same transaction; notes photos to fetch.
    func applyPull(_ page: PullResponse) throws {
        try write { db in
            var clock = try Self.loadClock(db)
            let now = self.clock.now()
            for change in page.changes {
                var state = try self.loadRecord(db, change.id) ?? RecordState(id: change.id, type: change.type, zone: change.zone)
                try state.merge(change)
                try self.saveRecord(db, state)
                for register in change.fields.values {
                    for entry in register.values { clock.observe(entry.time, now: now) }
                }
                for sha in Self.photoReferences(in: change) {
                    try db.cachedStatement(sql: "INSERT INTO blobs (sha256, state) VALUES (?, 'missing') ON CONFLICT(sha256) DO NOTHING")
                        .execute(arguments: [sha])
                }
            }
            try Self.saveClock(db, clock)
            try Self.setMeta(db, .cursor, page.cursor)
        }
    }

    /// The photo hashes a record refers to.
    static func photoReferences(in state: RecordState) -> Set<String> {
        var found = Set<String>()
        for path in state.fields.keys {
            let s = path.segments
            if state.type == .inspectionForm, s.count == 4, s[0] == "items", s[2] == "photos" { found.insert(String(s[3])) }
        }
        if state.type == .photo, let sha = Resolver.resolve("sha256", in: state)?.value?.stringValue { found.insert(sha) }
        return found.filter(Photo.isSHA256)
    }

    /// Photos held here that the server may not have yet.
    func pendingUploads() throws -> [(sha256: String, size: Int64)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT sha256, size FROM blobs WHERE state = 'local' ORDER BY sha256").map { ($0["sha256"], $0["size"]) }
        }
    }

    func setUploaded(_ sha256: String, bytes: Int64, complete: Bool) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE blobs SET uploaded_bytes = ?, state = CASE WHEN ? THEN 'uploaded' ELSE state END WHERE sha256 = ?",
                arguments: [bytes, complete, sha256])
        }
    }

    /// Photos referenced by synced records whose bytes are not here.
    public func missingPhotos() throws -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT sha256 FROM blobs WHERE state = 'missing' ORDER BY sha256") }
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
