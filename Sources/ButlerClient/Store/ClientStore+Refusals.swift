import ButlerModel
import Foundation
import GRDB

/// Refused edits: listing and discarding them, rebuilding a record after a discard, and
/// re-stamping edits held because the device clock was ahead.
extension ClientStore {
    /// Every edit the server refused, final and held, in outbox order.
    public func refusedEdits() throws -> [RefusedEdit] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT seq, record_id, refusal, refused_code, refused_message FROM outbox WHERE refusal IS NOT NULL ORDER BY seq"
            ).map { row in
                RefusedEdit(
                    id: row["seq"], record: try RecordID(row["record_id"] as String), code: (row["refused_code"] as String?).map(ErrorCode.init) ?? .refused,
                    message: (row["refused_message"] as String?) ?? "", isFinal: (row["refusal"] as String?) == "final")
            }
        }
    }

    /// Drops refused edit `id` (final or held) from the outbox and marks its record to be
    /// rebuilt at the next sync from the server's state joined with the record's remaining
    /// deltas, so the device does not keep showing a value the server will never have. Works
    /// offline: the discard and the mark are one transaction.
    ///
    /// Until that sync the device still shows the discarded edit.
    ///
    /// - Throws: ``ClientError/Code/unknownEdit`` when no refused edit has that id.
    @discardableResult
    public func discardRefused(_ id: Int64) throws -> RefusedEdit {
        try write { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT record_id, delta, refusal, refused_code, refused_message, refused_dots FROM outbox WHERE seq = ? AND refusal IS NOT NULL",
                    arguments: [id])
            else { throw ClientError(.unknownEdit, "no refused edit \(id) on this device (see `butler refused list`)") }
            // What the server refused (a store older than `refused_dots` reads the delta; one that no
            // longer opens is still discarded, just not reported).
            let dots = (row["refused_dots"] as String?)
                ?? (try? self.unsealed(row["delta"]))?.editDots(limit: DiscardedEdits.maxDots).dots.map(\.description).joined(separator: ",") ?? ""
            let edit = RefusedEdit(
                id: id, record: try RecordID(row["record_id"] as String), code: (row["refused_code"] as String?).map(ErrorCode.init) ?? .refused,
                message: (row["refused_message"] as String?) ?? "", isFinal: (row["refusal"] as String?) == "final")
            try db.execute(sql: "DELETE FROM outbox WHERE seq = ?", arguments: [id])
            try db.execute(sql: "INSERT INTO rebase (record_id) VALUES (?) ON CONFLICT(record_id) DO NOTHING", arguments: [edit.record.rawValue])
            if !dots.isEmpty {
                try db.execute(sql: "INSERT INTO discarded (record_id, dots) VALUES (?, ?)", arguments: [edit.record.rawValue, dots])
            }
            logger.info("refused edit discarded", metadata: ["outbox.seq": "\(id)", "record.id": "\(edit.record)", "refusal.code": "\(edit.code)"])
            return edit
        }
    }

    /// Discarded edits the server has not been told of yet, oldest first: at most `limit` of them
    /// and about `maxBytes` of dots, with the row number ``forgetDiscarded(through:)`` takes.
    func discardedToReport(limit: Int, maxBytes: Int) throws -> (edits: [DiscardedEdits.Edit], through: Int64)? {
        try read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT seq, record_id, dots FROM discarded ORDER BY seq LIMIT ?", arguments: [limit])
            var edits: [DiscardedEdits.Edit] = []
            var through: Int64?
            var bytes = 0
            for row in rows {
                let dots: String = row["dots"]
                bytes += dots.utf8.count + 200
                if bytes > maxBytes && through != nil { break }
                edits.append(DiscardedEdits.Edit(
                    record: try RecordID(row["record_id"] as String), dots: Set(dots.split(separator: ",").compactMap { Dot(parsing: String($0)) })))
                through = row["seq"]
            }
            return through.map { (edits, $0) }
        }
    }

    /// Forgets the discarded edits reported to the server, up to row `seq`.
    func forgetDiscarded(through seq: Int64) throws {
        try write { db in try db.execute(sql: "DELETE FROM discarded WHERE seq <= ?", arguments: [seq]) }
    }

    /// Records waiting to be rebuilt after a discard.
    public func recordsToRebase() throws -> [RecordID] {
        try read { db in try String.fetchAll(db.cachedStatement(sql: "SELECT record_id FROM rebase ORDER BY record_id")).map { try RecordID($0) } }
    }

    /// Rebuilds record `id` as `server` (its state on the server, `nil` when the server does not
    /// hold it) joined with every delta of it still in the outbox — or deletes it when neither
    /// exists — and clears its rebase mark, in one transaction.
    func rebase(_ id: RecordID, onto server: RecordState?) throws {
        try write { db in
            var state = server
            if let server {
                guard server.id == id else { throw ClientError(.badResponse, "asked the server for record \(id), got \(server.id)") }
                var hlc = try Self.loadClock(db)
                let now = self.clock.now()
                for register in server.fields.values {
                    for entry in register.values { hlc.observe(entry.time, now: now) }
                }
                try Self.saveClock(db, hlc)
                for sha in Self.photoReferences(in: server) {
                    try db.execute(sql: "INSERT INTO blobs (sha256, state) VALUES (?, 'missing') ON CONFLICT(sha256) DO NOTHING", arguments: [sha])
                }
            }
            for data in try Data.fetchAll(db, sql: "SELECT delta FROM outbox WHERE record_id = ? ORDER BY seq", arguments: [id.rawValue]) {
                let delta = try self.unsealed(data)
                if state == nil { state = RecordState(id: delta.id, type: delta.type, zone: delta.zone) }
                try state!.merge(delta)
            }
            if let state {
                try self.saveRecord(db, state)
            } else {
                try db.execute(sql: "DELETE FROM records WHERE id = ?", arguments: [id.rawValue])
            }
            try db.execute(sql: "DELETE FROM rebase WHERE record_id = ?", arguments: [id.rawValue])
        }
    }

    /// Re-stamps the held `clock-ahead` deltas whose times are more than
    /// ``HybridLogicalClock/maxForwardDrift`` ahead of this device's wall clock: same dots, fresh
    /// hybrid logical times, in the outbox delta and in the record's state alike, in one
    /// transaction; the deltas are then pending like new ones. Returns how many were re-stamped.
    ///
    /// Safe because the server refused those deltas: no other replica holds their dots, so the
    /// new times replace the old ones everywhere they exist. A held delta whose times are no
    /// longer that far ahead of the wall clock is left as it is (the device clock is still wrong,
    /// or the server's is).
    func restampClockAhead() throws -> Int {
        try write { db in
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT seq, record_id, delta FROM outbox WHERE refusal = 'held' AND refused_code = ? ORDER BY seq"),
                arguments: [ErrorCode.clockAhead.rawValue])
            guard !rows.isEmpty else { return 0 }
            let now = self.clock.now()
            let limit = HybridLogicalClock.millis(now) + HybridLogicalClock.maxForwardDrift
            var hlc = try self.editClock(db, now: now)
            var restamped = 0
            for row in rows {
                let delta = try self.unsealed(row["delta"])
                var times: [Dot: HLCTimestamp] = [:]
                // Every write of one edit shares its stamp: one fresh time per delta.
                var fresh: HLCTimestamp?
                for register in delta.fields.values {
                    for (dot, entry) in register where entry.time.millis > limit {
                        if fresh == nil { fresh = hlc.tick(now: now) }
                        times[dot] = fresh
                    }
                }
                guard !times.isEmpty else { continue }
                let newDelta = try Self.retimed(delta, times)
                if let state = try self.loadRecord(db, delta.id) {
                    try self.saveRecord(db, try Self.retimed(state, times))
                }
                try db.execute(
                    sql: "UPDATE outbox SET delta = ?, refusal = NULL, refused_code = NULL, refused_message = NULL WHERE seq = ?",
                    arguments: [try self.sealed(newDelta), row["seq"] as Int64])
                restamped += 1
            }
            try Self.saveClock(db, hlc)
            if restamped > 0 {
                logger.info("re-stamped edits held while the device clock was ahead", metadata: ["sync.restamped": "\(restamped)"])
            }
            return restamped
        }
    }

    /// `state` with the entries of the dots in `times` given those times; nothing else changes.
    static func retimed(_ state: RecordState, _ times: [Dot: HLCTimestamp]) throws -> RecordState {
        var fields = state.fields
        for (path, register) in state.fields {
            for (dot, entry) in register {
                guard let time = times[dot] else { continue }
                fields[path]![dot] = FieldEntry(value: entry.value, time: time, author: entry.author)
            }
        }
        return try ClientError.mapping {
            try RecordState(id: state.id, type: state.type, zone: state.zone, context: state.context, fields: fields)
        }
    }
}
