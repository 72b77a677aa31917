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

    /// Opens (creating) the database file at `path`.
    public init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.label = "butler.server"
        pool = try DatabasePool(path: path, configuration: config)
        // DatabasePool puts its connections in synchronous = NORMAL; an acknowledged push must
        // survive power loss, so the writer commits with FULL.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
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
            try Row.fetchOne(db, sql: "SELECT * FROM devices WHERE token_hash = ?", arguments: [tokenHash]).map(Self.device)
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

    public func merge(_ deltas: [RecordState]) async throws -> [MergeOutcome] {
        try await pool.write { db in
            var existing: [RecordID: RecordState] = [:]
            let select = try db.cachedStatement(sql: "SELECT state FROM records WHERE id = ?")
            for id in Set(deltas.map(\.id)) {
                if let data = try Data.fetchOne(select, arguments: [id.rawValue]) {
                    existing[id] = try JSONParser.parseRecordState([UInt8](data))
                }
            }
            let (outcomes, changed) = MergeBatch.apply(deltas, to: existing)
            // One writer at a time: numbers taken here commit in this order (see the type's documentation).
            var next = (try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM records") ?? 0) + 1
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO records (id, type, zone, state, seq) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET state = excluded.state, seq = excluded.seq
                """)
            for state in changed {
                try upsert.execute(arguments: [state.id.rawValue, state.type.rawValue, state.zone.rawValue, Data(state.canonicalJSON), next])
                next += 1
            }
            return outcomes
        }
    }

    public func changeEncodings(after cursor: Int64, zones: [Zone], limit: Int) async throws -> (states: [[UInt8]], cursor: Int64, more: Bool) {
        guard !zones.isEmpty else { return ([], cursor, false) }
        return try await pool.read { db in
            let placeholders = zones.map { _ in "?" }.joined(separator: ",")
            let rows = try Row.fetchAll(
                db, sql: "SELECT state, seq FROM records WHERE seq > ? AND zone IN (\(placeholders)) ORDER BY seq LIMIT ?",
                arguments: StatementArguments([cursor] as [any DatabaseValueConvertible] + zones.map(\.rawValue) + [limit + 1]))
            let page = rows.prefix(limit)
            let states = page.map { row -> [UInt8] in
                let data: Data = row["state"]
                return [UInt8](data)
            }
            let last: Int64 = page.last?["seq"] ?? cursor
            return (states, last, rows.count > limit)
        }
    }

    public func latestCursor() async throws -> Int64 {
        try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM records") ?? 0 }
    }

    public func records(zones: [Zone]) async throws -> [RecordState] {
        guard !zones.isEmpty else { return [] }
        return try await pool.read { db in
            let placeholders = zones.map { _ in "?" }.joined(separator: ",")
            return try Data.fetchAll(db, sql: "SELECT state FROM records WHERE zone IN (\(placeholders)) ORDER BY id", arguments: StatementArguments(zones.map(\.rawValue)))
                .map { try JSONParser.parseRecordState([UInt8]($0)) }
        }
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
