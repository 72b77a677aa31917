import ButlerModel
import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle

/// The store for many server nodes: PostgreSQL through postgres-nio's pooled client.
///
/// **The change feed has no gaps.** Sequence order is not commit order on PostgreSQL: a
/// transaction that took number 11 may commit after one that took 12, and a reader that saw 12
/// would move its cursor past 11 for ever. Every merge transaction here first takes one
/// transaction-scoped advisory lock (`pg_advisory_xact_lock`), held until it commits or rolls back,
/// and only then draws sequence numbers. Writers are therefore serialised across all nodes: when a
/// transaction draws a number, every transaction that drew a smaller one has already committed, so
/// once a reader sees number *n* committed it can never later see a number below *n* appear.
/// Rolled-back transactions leave holes in the numbering, which readers step over harmlessly.
/// The cost is one writer at a time, the same discipline SQLite has; a merge transaction is short
/// (one read of the touched records, one batched upsert), so this carries thousands of changes per
/// second. See `Protocol/SYNC.md` §8.
public final class PostgresStorage: SyncStorage, Service {
    /// The advisory lock key that serialises feed writers (and migrations) across nodes.
    static let feedLock: Int64 = 0x6275_746C_6572  // "butler"
    static let migrationLock: Int64 = 0x6275_746C_6D67

    public let client: PostgresClient
    let logger: Logger

    /// Connects to `url` (`postgres://user[:password]@host[:port]/database[?schema=name]`); the
    /// client's pool runs when ``run()`` does (add the storage to the application's services).
    public init(url: String, logger: Logger = Logger(label: "butler.server.postgres")) throws {
        self.client = PostgresClient(configuration: try Self.configuration(url: url), backgroundLogger: logger)
        self.logger = logger
    }

    /// Parses a PostgreSQL URL; `schema=` puts every table in that schema (one per test, or per tenant).
    public static func configuration(url text: String) throws -> PostgresClient.Configuration {
        guard let url = URLComponents(string: text), ["postgres", "postgresql"].contains(url.scheme ?? ""), let host = url.host, !host.isEmpty else {
            throw ModelError(.invalidValue, "the database URL must look like postgres://user:password@host:5432/database")
        }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        var config = PostgresClient.Configuration(
            host: host, port: url.port ?? 5432, username: url.user ?? "postgres", password: url.password,
            database: database.isEmpty ? nil : database, tls: .disable)
        for item in url.queryItems ?? [] {
            switch item.name {
            case "schema":
                guard let schema = item.value, schema.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) != nil else {
                    throw ModelError(.invalidValue, "schema must be a lower-case SQL identifier")
                }
                config.options.additionalStartupParameters.append(("search_path", schema))
            case "sslmode":
                if item.value == "require" { config.tls = .require(.makeClientConfiguration()) }
            default:
                throw ModelError(.invalidValue, "unknown database URL option \(item.name)")
            }
        }
        config.options.maximumConnections = 16
        return config
    }

    public func run() async throws {
        await client.run()
    }

    /// The schema named in the search path, created if missing.
    func currentSchema(_ connection: PostgresConnection) async throws -> String {
        let rows = try await connection.query("SELECT current_setting('search_path')", logger: logger)
        for try await (path) in rows.decode(String.self) {
            let first = path.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? "public"
            return first == "\"$user\"" ? "public" : first
        }
        return "public"
    }

    public func migrate() async throws {
        try await client.withConnection { connection in
            let schema = try await currentSchema(connection)
            // Several nodes may start at once: one migrates, the others wait on the lock and find it
            // done. Even CREATE … IF NOT EXISTS races without it (a duplicate-key error on the catalog).
            try await connection.withTransaction(logger: logger) { tx in
                try await tx.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
                try await tx.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"), logger: logger)
                try await tx.query("""
                    CREATE TABLE IF NOT EXISTS devices (
                        name TEXT PRIMARY KEY, role TEXT NOT NULL, zones TEXT NOT NULL,
                        token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, revoked_at TEXT)
                    """, logger: logger)
                try await tx.query("""
                    CREATE TABLE IF NOT EXISTS records (
                        id TEXT PRIMARY KEY, type TEXT NOT NULL, zone TEXT NOT NULL, state TEXT NOT NULL, seq BIGINT NOT NULL UNIQUE)
                    """, logger: logger)
                try await tx.query("CREATE INDEX IF NOT EXISTS records_zone_seq ON records(zone, seq)", logger: logger)
                try await tx.query("CREATE SEQUENCE IF NOT EXISTS change_seq", logger: logger)
            }
        }
    }

    public func health() async throws {
        try await client.query("SELECT 1", logger: logger)
    }

    // MARK: Devices

    public func addDevice(name: String, role: DeviceRole, zones: [Zone], tokenHash: String, at: Date) async throws {
        let zoneList = zones.map(\.rawValue).joined(separator: ",")
        let created = Timestamp.format(at)
        let rows = try await client.query(
            "INSERT INTO devices (name, role, zones, token_hash, created_at) VALUES (\(name), \(role.rawValue), \(zoneList), \(tokenHash), \(created)) ON CONFLICT (name) DO NOTHING RETURNING name",
            logger: logger)
        var inserted = false
        for try await _ in rows.decode(String.self) { inserted = true }
        guard inserted else { throw ModelError(.invalidValue, "a device named \(name) already exists") }
    }

    public func revokeDevice(name: String, at: Date) async throws -> Bool {
        let revoked = Timestamp.format(at)
        let rows = try await client.query(
            "UPDATE devices SET revoked_at = COALESCE(revoked_at, \(revoked)) WHERE name = \(name) RETURNING name", logger: logger)
        var found = false
        for try await _ in rows.decode(String.self) { found = true }
        return found
    }

    public func devices() async throws -> [DeviceRecord] {
        let rows = try await client.query("SELECT name, role, zones, created_at, revoked_at FROM devices ORDER BY name", logger: logger)
        var devices: [DeviceRecord] = []
        for try await row in rows.decode((String, String, String, String, String?).self) { devices.append(try Self.device(row)) }
        return devices
    }

    public func device(tokenHash: String) async throws -> DeviceRecord? {
        let rows = try await client.query(
            "SELECT name, role, zones, created_at, revoked_at FROM devices WHERE token_hash = \(tokenHash)", logger: logger)
        for try await row in rows.decode((String, String, String, String, String?).self) { return try Self.device(row) }
        return nil
    }

    static func device(_ row: (String, String, String, String, String?)) throws -> DeviceRecord {
        DeviceRecord(
            name: row.0, role: DeviceRole(rawValue: row.1) ?? .butler, zones: try row.2.split(separator: ",").map { try Zone(String($0)) },
            createdAt: Timestamp.parse(row.3) ?? Date(timeIntervalSince1970: 0), revokedAt: row.4.flatMap(Timestamp.parse))
    }

    // MARK: Records

    public func merge(_ deltas: [RecordState]) async throws -> [MergeOutcome] {
        guard !deltas.isEmpty else { return [] }
        let logger = logger
        return try await client.withTransaction(logger: logger) { tx in
            // The feed lock first: see the type's documentation for why this makes the feed gap-free.
            try await tx.query("SELECT pg_advisory_xact_lock(\(Self.feedLock))", logger: logger)
            let ids = Array(Set(deltas.map(\.id.rawValue)))
            var existing: [RecordID: RecordState] = [:]
            let rows = try await tx.query("SELECT id, state FROM records WHERE id = ANY(\(ids))", logger: logger)
            for try await (_, state) in rows.decode((String, String).self) {
                let decoded = try JSONParser.parseRecordState(Array(state.utf8))
                existing[decoded.id] = decoded
            }
            let (outcomes, changed) = MergeBatch.apply(deltas, to: existing)
            if !changed.isEmpty {
                let ids = changed.map(\.id.rawValue)
                let types = changed.map(\.type.rawValue)
                let zones = changed.map(\.zone.rawValue)
                let bodies = changed.map { String(decoding: $0.canonicalJSON, as: UTF8.self) }
                try await tx.query(
                    """
                    INSERT INTO records (id, type, zone, state, seq)
                    SELECT u.id, u.type, u.zone, u.state, nextval('change_seq')
                    FROM UNNEST(\(ids)::text[], \(types)::text[], \(zones)::text[], \(bodies)::text[]) WITH ORDINALITY AS u(id, type, zone, state, ord)
                    ORDER BY u.ord
                    ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, seq = EXCLUDED.seq
                    """, logger: logger)
            }
            return outcomes
        }
    }

    public func changeEncodings(after cursor: Int64, zones: [Zone], limit: Int) async throws -> (states: [[UInt8]], cursor: Int64, more: Bool) {
        guard !zones.isEmpty else { return ([], cursor, false) }
        let zoneNames = zones.map(\.rawValue)
        let rows = try await client.query(
            "SELECT state, seq FROM records WHERE seq > \(cursor) AND zone = ANY(\(zoneNames)) ORDER BY seq LIMIT \(limit + 1)", logger: logger)
        var states: [[UInt8]] = []
        var last = cursor
        var more = false
        for try await (state, seq) in rows.decode((String, Int64).self) {
            if states.count == limit {
                more = true
                break
            }
            states.append(Array(state.utf8))
            last = seq
        }
        return (states, last, more)
    }

    public func latestCursor() async throws -> Int64 {
        let rows = try await client.query("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM records", logger: logger)
        for try await (value) in rows.decode(Int64.self) { return value }
        return 0
    }

    public func records(zones: [Zone]) async throws -> [RecordState] {
        guard !zones.isEmpty else { return [] }
        let zoneNames = zones.map(\.rawValue)
        let rows = try await client.query("SELECT state FROM records WHERE zone = ANY(\(zoneNames)) ORDER BY id", logger: logger)
        var states: [RecordState] = []
        for try await (state) in rows.decode(String.self) { states.append(try JSONParser.parseRecordState(Array(state.utf8))) }
        return states
    }

    public func isPhotoVisible(sha256: String, zones: [Zone]) async throws -> Bool {
        let ids = try zones.map { try Photo.recordID(sha256: sha256, zone: $0).rawValue }
        guard !ids.isEmpty else { return false }
        let rows = try await client.query("SELECT EXISTS(SELECT 1 FROM records WHERE id = ANY(\(ids)))", logger: logger)
        for try await (exists) in rows.decode(Bool.self) { return exists }
        return false
    }
}

extension PostgresStorage {
    /// The stored canonical encoding of record `id`, or `nil` (`GET /v1/records/{id}`).
    public func encodedRecord(id: RecordID) async throws -> [UInt8]? {
        let rows = try await client.query("SELECT state FROM records WHERE id = \(id.rawValue)", logger: logger)
        for try await (state) in rows.decode(String.self) { return Array(state.utf8) }
        return nil
    }
}
