import ButlerFiles
import ButlerModel
import Foundation
import GRDB

/// What the last integrity check found for one zone (`Protocol/SYNC.md` §8.3), as `butler doctor`
/// reports it.
public struct ZoneIntegrity: Hashable, Sendable {
    public enum Checksum: String, Hashable, Sendable {
        /// The device holds exactly what the server held at the checkpoint.
        case ok
        /// It does not, and the repair left something (``left``) that needs a person.
        case mismatch
        /// Not compared: edits of this device in the zone wait to be pushed (the device's copy is
        /// meant to differ until they land), the server sent no checksum, or the check was cut off.
        case unknown
    }

    public var checksum: Checksum
    /// Since when the zone has stood so: a check that finds the same again changes nothing, so a
    /// sync that finds nothing new writes nothing to the device's disk.
    public var since: Date?
    /// Why the status is `unknown` or `mismatch`.
    public var reason: String?
    /// Records the last check re-fetched and repaired.
    public var repaired: Int
    /// Edits of this device the server turned out to lack, queued to be pushed again.
    public var requeued: Int
    /// Records that still differ after the repair (values of other devices the server lacks, or
    /// states this build cannot read).
    public var left: [String]

    public init(checksum: Checksum, since: Date? = nil, reason: String? = nil, repaired: Int = 0, requeued: Int = 0, left: [String] = []) {
        self.checksum = checksum
        self.since = since
        self.reason = reason
        self.repaired = repaired
        self.requeued = requeued
        self.left = left
    }

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = [
            "checksum": .string(checksum.rawValue), "repaired": .int(Int64(repaired)), "requeued": .int(Int64(requeued)),
            "left": .array(left.map(JSONValue.string)),
        ]
        o["since"] = since.map { .string(Timestamp.format($0)) } ?? .null
        o["reason"] = reason.map(JSONValue.string) ?? .null
        return .object(o)
    }

    public init(json: JSONValue) throws {
        let r = try JSONObjectReader(json, path: "integrity")
        checksum = Checksum(rawValue: try r.string("checksum")) ?? .unknown
        since = try r.optionalString("since").flatMap(Timestamp.parse)
        reason = try r.optionalString("reason")
        repaired = Int(try r.optionalInt("repaired") ?? 0)
        requeued = Int(try r.optionalInt("requeued") ?? 0)
        left = (try? r.array("left"))?.compactMap(\.stringValue) ?? []
    }
}

/// The last sync failure, kept for `butler doctor`.
public struct SyncFailure: Hashable, Sendable {
    public let code: String
    public let message: String
    public let at: Date

    public var jsonValue: JSONValue { ["code": .string(code), "message": .string(message), "at": .string(Timestamp.format(at))] }
}

/// What the integrity repair of one zone did (see ``ClientStore/repair(zone:server:absent:)``).
struct RepairOutcome: Hashable, Sendable {
    var repaired = 0
    var requeued = 0
    var left: [String] = []
}

extension ClientStore {
    static let integrityKey = "integrity"
    static let lastErrorKey = "last_error"

    /// The plain bytes of a stored state (opened when the device has a key): what is hashed.
    func plainBytes(_ data: Data) throws -> Data { try atRest?.open(data) ?? data }

    /// The digest of every zone the device holds records of, over the records' stored canonical bytes.
    func zoneDigests() throws -> [Zone: ZoneDigest] {
        try read { db in
            var digests: [String: ZoneDigest] = [:]
            let rows = try Row.fetchCursor(db, sql: "SELECT zone, state FROM records")
            while let row = try rows.next() {
                let zone: String = row["zone"]
                digests[zone, default: ZoneDigest()].add(ZoneDigest.hash(of: try self.plainBytes(row["state"])))
            }
            return Dictionary(uniqueKeysWithValues: try digests.map { (try Zone($0.key), $0.value) })
        }
    }

    /// The zones where an edit of this device waits in the outbox (pending, held or refused):
    /// there the device's copy is meant to differ from the server's, so it is not compared.
    func zonesAwaitingPush() throws -> Set<String> {
        try read { db in
            Set(try String.fetchAll(db, sql: "SELECT DISTINCT r.zone FROM outbox o JOIN records r ON r.id = o.record_id"))
        }
    }

    /// The hash of every record of `zone`, by bucket and id.
    func bucketHashes(zone: Zone) throws -> [Int: [String: String]] {
        try read { db in
            var buckets: [Int: [String: String]] = [:]
            let rows = try Row.fetchCursor(db, sql: "SELECT id, state FROM records WHERE zone = ?", arguments: [zone.rawValue])
            while let row = try rows.next() {
                let id: String = row["id"]
                buckets[ZoneDigest.bucket(of: id), default: [:]][id] = ZoneDigest.hashHex(of: try self.plainBytes(row["state"]))
            }
            return buckets
        }
    }

    /// Repairs the records of `zone` found to differ, in one transaction. Each becomes the server's
    /// state (`server`; `absent`: ids the server does not hold) joined with what the device holds
    /// that the server has never seen — values whose dots the server's context lacks. The server's
    /// state decides every dot it has seen: a dot is written once, and the server holds what was
    /// accepted under it. Of the values the server never saw, this device's own are queued to be
    /// pushed again (an edit is never dropped); another device's are kept and reported as left.
    func repair(zone: Zone, server: [RecordState], absent: [RecordID]) throws -> RepairOutcome {
        try write { db in
            let replica = try Self.identity(db).replica
            var outcome = RepairOutcome()
            var clock = try Self.loadClock(db)
            let now = self.clock.now()
            let fromServer: [(RecordID, RecordState?)] = server.map { ($0.id, $0) } + absent.map { ($0, nil) }
            for (id, held) in fromServer {
                let local = try self.loadRecord(db, id)
                guard let header = held ?? local, header.zone == zone else { continue }
                var unseen: [FieldPath: [Dot: FieldEntry]] = [:]
                var own: [FieldPath: [Dot: FieldEntry]] = [:]
                var foreign = false
                for (path, register) in local?.fields ?? [:] {
                    for (dot, entry) in register where !(held?.context.contains(dot) ?? false) {
                        unseen[path, default: [:]][dot] = entry
                        if dot.replica == replica { own[path, default: [:]][dot] = entry } else { foreign = true }
                    }
                }
                var rebuilt = held ?? RecordState(id: header.id, type: header.type, zone: header.zone)
                if !unseen.isEmpty { try rebuilt.merge(try Self.values(unseen, of: rebuilt)) }
                if !own.isEmpty {
                    try db.cachedStatement(sql: "INSERT INTO outbox (record_id, delta) VALUES (?, ?)")
                        .execute(arguments: [id.rawValue, try self.sealed(try Self.values(own, of: rebuilt))])
                    outcome.requeued += own.values.reduce(0) { $0 + $1.count }
                }
                if foreign { outcome.left.append(id.rawValue) }
                guard rebuilt != local else { continue }
                if rebuilt.isEmpty {
                    try db.execute(sql: "DELETE FROM records WHERE id = ?", arguments: [id.rawValue])
                } else {
                    try self.saveRecord(db, rebuilt)
                }
                outcome.repaired += 1
                for register in held?.fields.values.map({ $0 }) ?? [] {
                    for entry in register.values { clock.observe(entry.time, now: now) }
                }
                for sha in held.map(Self.photoReferences) ?? [] {
                    try db.cachedStatement(sql: "INSERT INTO blobs (sha256, state) VALUES (?, 'missing') ON CONFLICT(sha256) DO NOTHING")
                        .execute(arguments: [sha])
                }
            }
            try Self.saveClock(db, clock)
            return outcome
        }
    }

    /// A delta of `record` carrying `values` and seeing exactly their dots: it removes nothing.
    static func values(_ values: [FieldPath: [Dot: FieldEntry]], of record: RecordState) throws -> RecordState {
        var context = CausalContext()
        for register in values.values {
            for dot in register.keys { context.insert(dot) }
        }
        return try RecordState(id: record.id, type: record.type, zone: record.zone, context: context, fields: values)
    }

    /// What the last integrity check found, by zone.
    public func integrity() throws -> [String: ZoneIntegrity] {
        try read { db in
            guard let text = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [Self.integrityKey]),
                case .object(let members) = try JSONParser.parse(Array(text.utf8))
            else { return [:] }
            return try members.mapValues(ZoneIntegrity.init(json:))
        }
    }

    /// Records what a check found for some zones (the others keep their last result); a zone found
    /// as it was keeps its `since`, and nothing is written when no zone changed.
    func setIntegrity(_ results: [String: ZoneIntegrity]) throws {
        var all = try integrity()
        var changed = false
        for (zone, result) in results {
            var same = result
            same.since = all[zone]?.since
            if all[zone] != same {
                all[zone] = result
                changed = true
            }
        }
        guard changed else { return }
        let text = JSONValue.object(all.mapValues(\.jsonValue)).canonicalString
        try write { db in
            try db.execute(
                sql: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [Self.integrityKey, text])
        }
    }

    /// Keeps the last sync failure for `butler doctor`.
    func setLastSyncError(_ error: ClientError, at date: Date) throws {
        let failure = SyncFailure(code: error.code.rawValue, message: error.message, at: date)
        try write { db in
            try db.execute(
                sql: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [Self.lastErrorKey, failure.jsonValue.canonicalString])
        }
    }

    /// The last sync failure, if any sync failed since the store was made.
    public func lastSyncError() throws -> SyncFailure? {
        try read { db in
            guard let text = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [Self.lastErrorKey]) else { return nil }
            let r = try JSONObjectReader(try JSONParser.parse(Array(text.utf8)))
            return SyncFailure(code: try r.string("code"), message: try r.string("message"), at: Timestamp.parse(try r.string("at")) ?? Date(timeIntervalSince1970: 0))
        }
    }

    /// When the oldest edit still waiting to be pushed was made (its earliest value's hybrid
    /// logical clock time, which a device takes from its wall clock), or `nil` when none waits.
    public func oldestPendingEdit() throws -> Date? {
        try read { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT delta FROM outbox WHERE \(Self.pendingCondition) ORDER BY seq LIMIT 100")
            while let row = try rows.next() {
                let delta = try self.unsealed(row["delta"])
                let millis = delta.fields.values.flatMap { $0.values.map(\.time.millis) }.min()
                if let millis { return Date(timeIntervalSince1970: Double(millis) / 1000) }
            }
            return nil
        }
    }

    /// Photos waiting to be uploaded, with how many bytes the server already holds of each.
    public func photoUploads() throws -> [(sha256: String, size: Int64, uploaded: Int64, heldBack: Bool)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT sha256, COALESCE(size, 0) AS size, uploaded_bytes,
                    EXISTS (SELECT 1 FROM outbox WHERE refusal IS NOT NULL AND record_id LIKE 'photo:%:' || blobs.sha256) AS held
                FROM blobs WHERE state = 'local' ORDER BY sha256
                """).map { ($0["sha256"], $0["size"], $0["uploaded_bytes"], $0["held"]) }
        }
    }
}
