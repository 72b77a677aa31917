import ButlerFiles
import ButlerModel
import Foundation
import GRDB

/// The embedded default store: one SQLite file (WAL, `synchronous = FULL`) through GRDB.
///
/// The change feed is a sequence number per record, set to `max + 1` inside the transaction that
/// changes the record. SQLite admits one writer at a time, so transactions commit in the order
/// they took their numbers: once a reader sees number *n* committed, no transaction can still
/// commit a number below *n*, and a cursor never skips a change (`Protocol/SYNC.md` §8).
public final class SQLiteStorage: SyncStorage {
    let pool: DatabasePool
    /// Wakes live pulls after each merge that changed a record (one server per file).
    public let changes = ChangeSignal()

    /// Opens (creating) the database file at `path`. `durability` is ``Durability/powerLoss``
    /// (`synchronous = FULL`) for every real server; the simulation's nodes alone pass
    /// ``Durability/processCrash`` (`synchronous = NORMAL`).
    public init(path: String, durability: Durability = .powerLoss) throws {
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.label = "butler.server"
        pool = try DatabasePool(path: path, configuration: config)
        // DatabasePool puts its connections in synchronous = NORMAL; an acknowledged push must
        // survive power loss, so the writer commits with FULL.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(durability.sqliteSynchronous)") }
    }

    public func migrate() async throws {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE devices (
                    name TEXT PRIMARY KEY NOT NULL,
                    role TEXT NOT NULL,
                    zones TEXT NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    created_at TEXT NOT NULL,
                    revoked_at TEXT
                );
                CREATE TABLE records (
                    id TEXT PRIMARY KEY NOT NULL,
                    type TEXT NOT NULL,
                    zone TEXT NOT NULL,
                    state BLOB NOT NULL,
                    seq INTEGER NOT NULL UNIQUE
                );
                CREATE INDEX records_zone_seq ON records(zone, seq);
                """)
        }
        migrator.registerMigration("v2-trust") { db in
            try db.execute(sql: """
                CREATE TABLE replicas (
                    replica TEXT PRIMARY KEY NOT NULL,
                    device TEXT NOT NULL,
                    bound_at TEXT NOT NULL
                );
                CREATE INDEX replicas_device ON replicas(device);
                CREATE TABLE audit (
                    seq INTEGER PRIMARY KEY NOT NULL,
                    at TEXT NOT NULL,
                    device TEXT NOT NULL,
                    replicas TEXT NOT NULL,
                    record_id TEXT NOT NULL,
                    delta BLOB NOT NULL,
                    delta_hash TEXT NOT NULL,
                    prev_hash TEXT NOT NULL,
                    hash TEXT NOT NULL
                );
                CREATE INDEX audit_record ON audit(record_id, seq);
                CREATE TABLE blob_usage (
                    device TEXT NOT NULL,
                    day TEXT NOT NULL,
                    bytes INTEGER NOT NULL,
                    PRIMARY KEY (device, day)
                );
                CREATE TABLE blob_owners (
                    sha256 TEXT PRIMARY KEY NOT NULL,
                    device TEXT NOT NULL,
                    bytes INTEGER NOT NULL,
                    completed_at TEXT NOT NULL
                );
                CREATE INDEX records_type ON records(type);
                """)
        }
        Self.registerIntegrityMigration(&migrator)
        Self.registerConsoleMigration(&migrator)
        Self.registerRefusalMigration(&migrator)
        try migrator.migrate(pool)
    }

    public func health() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: Devices

    public func addDevice(name: String, role: DeviceRole, zones: [Zone], tokenHash: String, at: Date) async throws {
        try await pool.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM devices WHERE name = ?", arguments: [name]) == true {
                throw ModelError(.invalidValue, "a device named \(name) already exists")
            }
            try db.execute(
                sql: "INSERT INTO devices (name, role, zones, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [name, role.rawValue, zones.map(\.rawValue).joined(separator: ","), tokenHash, Timestamp.format(at)])
        }
    }

    public func revokeDevice(name: String, at: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?) WHERE name = ?", arguments: [Timestamp.format(at), name])
            return db.changesCount > 0
        }
    }

    public func devices() async throws -> [DeviceRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM devices ORDER BY name").map(Self.device)
        }
    }

    public func device(tokenHash: String) async throws -> DeviceRecord? {
        try await pool.read { db in
            // Every request asks (the token is checked each time, so a revocation is immediate).
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM devices WHERE token_hash = ?"), arguments: [tokenHash]).map(Self.device)
        }
    }

    static func device(_ row: Row) throws -> DeviceRecord {
        let zones: String = row["zones"]
        return DeviceRecord(
            name: row["name"], role: DeviceRole(rawValue: row["role"]) ?? .butler,
            zones: try zones.split(separator: ",").map { try Zone(String($0)) },
            createdAt: Timestamp.parse(row["created_at"]) ?? Date(timeIntervalSince1970: 0),
            revokedAt: (row["revoked_at"] as String?).flatMap(Timestamp.parse))
    }

    // MARK: Records

    public func merge(_ deltas: [RecordState], refused: [RefusalDraft], by device: DeviceRecord, at now: Date) async throws -> [MergeOutcome] {
        let (outcomes, zones, refusals) = try await mergeTransaction(deltas, refused: refused, by: device, at: now)
        // Committed: the live pulls of these zones may look again.
        changes.publish(zones: zones)
        RefusalLog.report(refusals, device: device.name)
        return outcomes
    }

    func mergeTransaction(
        _ deltas: [RecordState], refused: [RefusalDraft], by device: DeviceRecord, at now: Date
    ) async throws -> ([MergeOutcome], Set<Zone>, RefusalLog.Plan) {
        try await pool.write { db in
            var existing: [RecordID: RecordState] = [:]
            var unreadable: [RecordID: ModelError] = [:]
            let select = try db.cachedStatement(sql: "SELECT state FROM records WHERE id = ?")
            for id in Set(deltas.map(\.id)) {
                guard let data = try Data.fetchOne(select, arguments: [id.rawValue]) else { continue }
                // One damaged record refuses the deltas to it, never the whole push.
                do { existing[id] = try MergeBatch.decodeStored([UInt8](data), id: id) } catch let error as ModelError { unreadable[id] = error }
            }
            var owners: [ReplicaID: String] = [:]
            let named = MergeBatch.writingReplicas(deltas)
            // The device's own ids, and the owners of every replica writing in this push (in
            // chunks: SQLite bounds the number of parameters).
            var start = 0
            repeat {
                let chunk = Array(named[start..<min(start + 500, named.count)])
                start += 500
                let placeholders = chunk.map { _ in "?" }.joined(separator: ",")
                let rows = try Row.fetchAll(
                    db.cachedStatement(sql: "SELECT replica, device FROM replicas WHERE device = ?" + (chunk.isEmpty ? "" : " OR replica IN (\(placeholders))")),
                    arguments: StatementArguments([device.name] + chunk))
                for row in rows { owners[try ReplicaID(row["replica"])] = row["device"] }
            } while start < named.count
            var history: [RecordID: [Dot: DeltaAdmission.Value]] = [:]
            for (id, wanted) in MergeBatch.historyWanted(deltas, existing) {
                let audited = try Data.fetchAll(db, sql: "SELECT delta FROM audit WHERE record_id = ? ORDER BY seq", arguments: [id.rawValue])
                history[id] = MergeBatch.auditedValues(audited.map { [UInt8]($0) }, wanted: wanted)
            }
            let (result, encoded) = MergeBatch.applyBounded(deltas, to: existing, unreadable: unreadable, by: device, owners: owners, history: history)
            for replica in result.bindings {
                try db.execute(
                    sql: "INSERT INTO replicas (replica, device, bound_at) VALUES (?, ?, ?)",
                    arguments: [replica.rawValue, device.name, Timestamp.format(now)])
            }
            // One writer at a time: numbers taken here commit in this order (see the type's documentation).
            var next = (try Int64.fetchOne(db.cachedStatement(sql: "SELECT MAX(seq) FROM records")) ?? 0) + 1
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO records (id, type, zone, state, seq) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET state = excluded.state, seq = excluded.seq
                """)
            var written: [(id: String, zone: String, bytes: [UInt8])] = []
            for state in result.changed {
                let bytes = encoded[state.id]?.bytes ?? state.canonicalJSON
                try upsert.execute(arguments: [state.id.rawValue, state.type.rawValue, state.zone.rawValue, Data(bytes), next])
                next += 1
                written.append((state.id.rawValue, state.zone.rawValue, bytes))
            }
            try Self.updateDigests(db, written)
            if !result.audited.isEmpty {
                let head = try Row.fetchOne(db.cachedStatement(sql: "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"))
                let insert = try db.cachedStatement(sql: """
                    INSERT INTO audit (seq, at, device, replicas, record_id, delta, delta_hash, prev_hash, hash)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                let entries = AuditEntry.chain(
                    result.audited, after: (head?["seq"] ?? 0, head?["hash"] ?? AuditEntry.genesis), at: now, device: device.name, changed: encoded)
                for entry in entries {
                    try insert.execute(arguments: [
                        entry.seq, entry.at, entry.device, entry.replicas.joined(separator: ","), entry.record, Data(entry.delta), entry.deltaHash,
                        entry.previousHash, entry.hash,
                    ])
                }
            }
            var refusals = RefusalLog.Plan()
            if RefusalLog.keeps(device.name) {
                refusals = RefusalLog.plan(
                    open: try Self.openRefusals(db, device: device.name), deltas: deltas, result: result, earlier: refused, existing: existing,
                    owners: owners, device: device.name)
                try Self.keepRefusals(db, refusals, device: device.name, at: now)
            }
            return (result.outcomes, Set(result.changed.map(\.zone)), refusals)
        }
    }

    public func replicaBindings() async throws -> [ReplicaBinding] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT replica, device, bound_at FROM replicas ORDER BY device, bound_at, replica")
                .map { ReplicaBinding(replica: $0["replica"], device: $0["device"], boundAt: $0["bound_at"]) }
        }
    }

    public func bindReplica(_ replica: ReplicaID, to device: String, at: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO replicas (replica, device, bound_at) VALUES (?, ?, ?) ON CONFLICT(replica) DO NOTHING",
                arguments: [replica.rawValue, device, Timestamp.format(at)])
            return db.changesCount > 0
        }
    }

    public func auditEntries(after seq: Int64, record: RecordID?, limit: Int) async throws -> [AuditEntry] {
        try await pool.read { db in
            let rows: [Row]
            if let record {
                rows = try Row.fetchAll(
                    db, sql: "SELECT * FROM audit WHERE record_id = ? AND seq > ? ORDER BY seq LIMIT ?", arguments: [record.rawValue, seq, limit])
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [seq, limit])
            }
            return rows.map { row in
                let replicas: String = row["replicas"]
                let delta: Data = row["delta"]
                return AuditEntry(
                    seq: row["seq"], at: row["at"], device: row["device"], replicas: replicas.split(separator: ",").map(String.init),
                    record: row["record_id"], delta: [UInt8](delta), deltaHash: row["delta_hash"], previousHash: row["prev_hash"], hash: row["hash"])
            }
        }
    }

    public func storedRecords(after id: String?, limit: Int) async throws -> [StoredRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT id, type, zone, state FROM records WHERE id > ? ORDER BY id LIMIT ?", arguments: [id ?? "", limit]
            ).map { row in
                let state: Data = row["state"]
                return StoredRecord(id: row["id"], type: row["type"], zone: row["zone"], state: [UInt8](state))
            }
        }
    }

    public func changeEncodings(after cursor: Int64, zones: [Zone], limit: Int, maxBytes: Int) async throws -> (states: [[UInt8]], cursor: Int64, more: Bool) {
        guard !zones.isEmpty else { return ([], cursor, false) }
        return try await pool.read { db in
            let placeholders = zones.map { _ in "?" }.joined(separator: ",")
            let rows = try Row.fetchCursor(
                db.cachedStatement(sql: "SELECT state, seq FROM records WHERE seq > ? AND zone IN (\(placeholders)) ORDER BY seq LIMIT ?"),
                arguments: StatementArguments([cursor] as [any DatabaseValueConvertible] + zones.map(\.rawValue) + [limit + 1]))
            var states: [[UInt8]] = []
            var last = cursor
            var bytes = 0
            while let row = try rows.next() {
                if states.count == limit || bytes >= maxBytes { return (states, last, true) }
                let data: Data = row["state"]
                states.append([UInt8](data))
                bytes += data.count
                last = row["seq"]
            }
            return (states, last, false)
        }
    }

    public func latestCursor() async throws -> Int64 {
        try await pool.read { db in try Int64.fetchOne(db.cachedStatement(sql: "SELECT MAX(seq) FROM records")) ?? 0 }
    }

    public func records(zones: [Zone]) async throws -> [RecordState] {
        guard !zones.isEmpty else { return [] }
        return try await pool.read { db in
            let placeholders = zones.map { _ in "?" }.joined(separator: ",")
            return try Data.fetchAll(db, sql: "SELECT state FROM records WHERE zone IN (\(placeholders)) ORDER BY id", arguments: StatementArguments(zones.map(\.rawValue)))
                .map { try JSONParser.parseRecordState([UInt8]($0)) }
        }
    }

    // MARK: Blob quotas

    public func reserveUploadBytes(device: String, day: String, bytes: Int64, limit: Int64) async throws -> Bool {
        try await pool.write { db in
            let used = try Int64.fetchOne(db, sql: "SELECT bytes FROM blob_usage WHERE device = ? AND day = ?", arguments: [device, day]) ?? 0
            guard used + bytes <= limit else { return false }
            try db.execute(
                sql: "INSERT INTO blob_usage (device, day, bytes) VALUES (?, ?, ?) ON CONFLICT(device, day) DO UPDATE SET bytes = bytes + excluded.bytes",
                arguments: [device, day, bytes])
            return true
        }
    }

    public func addUploadedBytes(device: String, day: String, bytes: Int64) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO blob_usage (device, day, bytes) VALUES (?, ?, ?) ON CONFLICT(device, day) DO UPDATE SET bytes = bytes + excluded.bytes",
                arguments: [device, day, bytes])
        }
    }

    public func uploadedBytes(device: String, day: String) async throws -> Int64 {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT bytes FROM blob_usage WHERE device = ? AND day = ?", arguments: [device, day]) ?? 0
        }
    }

    public func recordBlob(sha256: String, device: String, bytes: Int64, at: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO blob_owners (sha256, device, bytes, completed_at) VALUES (?, ?, ?, ?) ON CONFLICT(sha256) DO NOTHING",
                arguments: [sha256, device, bytes, Timestamp.format(at)])
        }
    }

    public func unreferencedBlobs() async throws -> [UnreferencedBlob] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT sha256, device, bytes, completed_at FROM blob_owners b
                WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.type = 'photo' AND r.id LIKE 'photo:%:' || b.sha256)
                ORDER BY completed_at
                """).map { row in
                UnreferencedBlob(
                    sha256: row["sha256"], device: row["device"], bytes: row["bytes"],
                    completedAt: Timestamp.parse(row["completed_at"]) ?? Date(timeIntervalSince1970: 0))
            }
        }
    }

    public func isPhotoReferenced(sha256: String) async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM records WHERE type = 'photo' AND id LIKE ?)", arguments: ["photo:%:" + sha256]) ?? false
        }
    }

    public func forgetBlob(sha256: String) async throws {
        try await pool.write { db in try db.execute(sql: "DELETE FROM blob_owners WHERE sha256 = ?", arguments: [sha256]) }
    }

    public func isPhotoVisible(sha256: String, zones: [Zone]) async throws -> Bool {
        let ids = try zones.map { try Photo.recordID(sha256: sha256, zone: $0).rawValue }
        guard !ids.isEmpty else { return false }
        return try await pool.read { db in
            let placeholders = ids.map { _ in "?" }.joined(separator: ",")
            return try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM records WHERE id IN (\(placeholders)))", arguments: StatementArguments(ids)) ?? false
        }
    }
}

extension SQLiteStorage {
    /// The stored canonical encoding of record `id`, or `nil` (`GET /v1/records/{id}`).
    public func encodedRecord(id: RecordID) async throws -> [UInt8]? {
        try await pool.read { db in
            try Data.fetchOne(db, sql: "SELECT state FROM records WHERE id = ?", arguments: [id.rawValue]).map { [UInt8]($0) }
        }
    }
}
