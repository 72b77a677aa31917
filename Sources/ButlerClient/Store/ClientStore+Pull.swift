import ButlerModel
import Foundation
import GRDB

/// Storing the change feed: one pulled page and its cursor per transaction.
extension ClientStore {
    /// Stores one pulled page and its cursor in the same transaction; notes photos to fetch.
    ///
    /// Every change was decoded with every check a pulled state gets (the strict parser, the
    /// record's limits and shape, ``RecordState/init(id:type:zone:context:fields:)``) before it
    /// comes here. Then, per change:
    /// - a record the device does not hold is inserted as it arrived: a merge into nothing returns
    ///   the received state unchanged, so there is nothing to merge and, when the received bytes
    ///   are the state's canonical encoding (what a server serves), nothing to encode either —
    ///   the bytes are stored as they are. Bytes that are valid but not canonical are never
    ///   stored: the state's canonical encoding is, as a merge would have written;
    /// - a record the device holds (its own edit coming back, a colleague's change, a record with
    ///   edits still in the outbox) is merged into the stored state as before, and written only
    ///   when the merge changed it.
    /// A failure anywhere rolls the whole page back, cursor included: the next pull asks for the
    /// same page again, so a crash or a bad page never skips a change.
    func applyPull(_ page: PullResponse) throws {
        try write { db in
            var clock = try Self.loadClock(db)
            let now = self.clock.now()
            // `DO NOTHING` and the changes count say, in one statement, whether the record was new.
            let insert = try db.cachedStatement(
                sql: "INSERT INTO records (id, type, zone, state) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO NOTHING")
            var canonical: [UInt8] = []
            for (index, change) in page.changes.enumerated() {
                if try !self.insertNew(db, insert, change, received: page.received[index], scratch: &canonical) {
                    let stored = try self.loadRecord(db, change.id)
                    var state = stored ?? RecordState(id: change.id, type: change.type, zone: change.zone)
                    try state.merge(change)
                    // A change this device already holds (its own edit coming back through the
                    // feed, a page pulled again after a lost reply) leaves the record as it was:
                    // nothing to encode or write.
                    if state != stored { try self.saveRecord(db, state) }
                }
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

    /// Inserts `change` as a new record; `false` when the device already holds the record (then
    /// nothing was written). Stores `received` as it is when those are the state's canonical
    /// bytes, the canonical encoding otherwise. `scratch` is a buffer reused across a page.
    private func insertNew(
        _ db: Database, _ insert: Statement, _ change: RecordState, received: ArraySlice<UInt8>?, scratch: inout [UInt8]
    ) throws -> Bool {
        scratch.removeAll(keepingCapacity: true)
        change.writeCanonical(into: &scratch)
        let plain: Data
        if let received, Self.sameBytes(scratch, received) {
            plain = received.withUnsafeBytes { Data($0) }
        } else {
            plain = scratch.withUnsafeBytes { Data($0) }
        }
        let data = try atRest?.seal(plain) ?? plain
        try insert.execute(arguments: [change.id.rawValue, change.type.rawValue, change.zone.rawValue, data])
        return db.changesCount > 0
    }

    /// Whether two byte sequences are equal, compared with `memcmp`.
    private static func sameBytes(_ a: [UInt8], _ b: ArraySlice<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        guard !a.isEmpty else { return true }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
    }
}
