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
    /// Where the database is: the pool connects through it, and so does the change listener's own
    /// connection (held outside the pool, see ``listenForChanges()``).
    let address: Address
    /// The `NOTIFY` channel of this database schema: nodes sharing a schema share a feed. The
    /// listener's connection carries it as its `application_name` too (see `pg_stat_activity`).
    public let notifyChannel: String
    /// Wakes this node's live pulls: after its own merges, and for every node's commits through
    /// `LISTEN` on ``notifyChannel`` (see ``listenForChanges()``).
    public let changes = ChangeSignal()

    /// Connects to `url` (`postgres://user[:password]@host[:port]/database[?schema=name]`); the
    /// client's pool runs when ``run()`` does (add the storage to the application's services).
    public init(url: String, logger: Logger = Logger(label: "butler.server.postgres")) throws {
        self.address = try Address(url: url)
        self.client = PostgresClient(configuration: address.poolConfiguration, backgroundLogger: logger)
        self.logger = logger
        // A channel name is at most 63 bytes; two schemas sharing a prefix only wake each other
        // spuriously (a live pull looks again and finds nothing).
        self.notifyChannel = "butler_changes_" + String((address.schema ?? "public").prefix(40))
    }

    /// A parsed database URL.
    struct Address: Sendable {
        var host: String
        var port: Int
        var username: String
        var password: String?
        var database: String?
        /// `schema=`: every table in that schema (one per test, or per tenant).
        var schema: String?
        var requireTLS = false

        init(url text: String) throws {
            guard let url = URLComponents(string: text), ["postgres", "postgresql"].contains(url.scheme ?? ""), let host = url.host, !host.isEmpty
            else {
                throw ConfigurationError("the database URL must look like postgres://user:password@host:5432/database")
            }
            let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
            (self.host, self.port, self.username, self.password) = (host, url.port ?? 5432, url.user ?? "postgres", url.password)
            self.database = database.isEmpty ? nil : database
            for item in url.queryItems ?? [] {
                switch item.name {
                case "schema":
                    guard let schema = item.value, schema.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) != nil else {
                        throw ConfigurationError("the database URL option schema must be a lower-case SQL identifier")
                    }
                    self.schema = schema
                case "sslmode":
                    if item.value == "require" { requireTLS = true }
                default:
                    throw ConfigurationError("unknown database URL option \(item.name)")
                }
            }
        }

        var poolConfiguration: PostgresClient.Configuration {
            var config = PostgresClient.Configuration(
                host: host, port: port, username: username, password: password, database: database,
                tls: requireTLS ? .require(.makeClientConfiguration()) : .disable)
            if let schema { config.options.additionalStartupParameters.append(("search_path", schema)) }
            config.options.maximumConnections = 16
            return config
        }

        func connectionConfiguration() throws -> PostgresConnection.Configuration {
            var config = PostgresConnection.Configuration(
                host: host, port: port, username: username, password: password, database: database,
                tls: requireTLS ? .require(try .init(configuration: .makeClientConfiguration())) : .disable)
            if let schema { config.options.additionalStartupParameters.append(("search_path", schema)) }
            return config
        }
    }

    /// Parses a PostgreSQL URL into the pool's configuration.
    public static func configuration(url text: String) throws -> PostgresClient.Configuration {
        try Address(url: text).poolConfiguration
    }

    /// Runs the connection pool and, beside it, the listener that wakes live pulls for the
    /// commits of every node; the listener stops on graceful shutdown, the pool when its task ends.
    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.client.run() }
            group.addTask { await cancelWhenGracefulShutdown { await self.listenForChanges() } }
            await group.next()
            group.cancelAll()
        }
    }

    /// Wakes this node's live pulls for every node's commits. Each merge transaction with a change
    /// runs `pg_notify` on ``notifyChannel`` naming its zones, delivered only if it commits; this
    /// holds one connection of its own on `LISTEN` — outside the pool, so neither the pool's
    /// shutdown nor its leases ever wait on it (a pooled listener hung a node's shutdown after a
    /// database restart in the real-process run). On every (re)connection, once listening, it
    /// notes the feed's newest sequence number; after a lost connection it first wakes the zones
    /// whose records moved past the last number noted, so a commit made while no one listened
    /// still wakes its pulls (a commit seen twice costs one spurious look).
    func listenForChanges() async {
        let changes = changes
        var noted: Int64? = nil
        var attempt = 0
        while !Task.isCancelled {
            do {
                var configuration = try address.connectionConfiguration()
                configuration.options.additionalStartupParameters.append(("application_name", notifyChannel))
                let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
                // Closed on every path (a connection must not be dropped open), then any error rethrown.
                let listened: Result<Void, any Error>
                do {
                    try await withTaskCancellationHandler {
                        try await connection.listen(on: notifyChannel) { notifications in
                            if let after = noted { changes.publish(zones: try await Self.zonesChanged(after: after, on: connection, logger: logger)) }
                            noted = try await Self.latestCursor(on: connection, logger: logger)
                            attempt = 0
                            for try await notification in notifications {
                                changes.publish(zones: notification.payload.split(separator: ",").compactMap { try? Zone(String($0)) })
                            }
                        }
                    } onCancel: {
                        connection.close().whenComplete { _ in }
                    }
                    listened = .success(())
                } catch {
                    listened = .failure(error)
                }
                try? await connection.close()
                try listened.get()
            } catch {
                if Task.isCancelled { return }
                if attempt == 0 { logger.notice("change listener lost its connection; reconnecting", metadata: ["error.message": "\(String(reflecting: error))"]) }
            }
            attempt += 1
            // 0.2 s, then up to 5 s apart while the database is away.
            try? await Task.sleep(for: .milliseconds(min(5_000, 200 * attempt)))
        }
    }

    /// The zones of the records changed after feed position `seq`.
    static func zonesChanged(after seq: Int64, on connection: PostgresConnection, logger: Logger) async throws -> [Zone] {
        let rows = try await connection.query("SELECT DISTINCT zone FROM records WHERE seq > \(seq)", logger: logger)
        var zones: [Zone] = []
        for try await (zone) in rows.decode(String.self) { if let zone = try? Zone(zone) { zones.append(zone) } }
        return zones
    }

    static func latestCursor(on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        let rows = try await connection.query("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM records", logger: logger)
        for try await (value) in rows.decode(Int64.self) { return value }
        return 0
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
                try await tx.query("""
                    CREATE TABLE IF NOT EXISTS replicas (replica TEXT PRIMARY KEY, device TEXT NOT NULL, bound_at TEXT NOT NULL)
                    """, logger: logger)
                try await tx.query("CREATE INDEX IF NOT EXISTS replicas_device ON replicas(device)", logger: logger)
                try await tx.query("""
                    CREATE TABLE IF NOT EXISTS audit (
                        seq BIGINT PRIMARY KEY, at TEXT NOT NULL, device TEXT NOT NULL, replicas TEXT NOT NULL, record_id TEXT NOT NULL,
                        delta TEXT NOT NULL, delta_hash TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)
                    """, logger: logger)
                try await tx.query("CREATE INDEX IF NOT EXISTS audit_record ON audit(record_id, seq)", logger: logger)
                try await tx.query("""
                    CREATE TABLE IF NOT EXISTS blob_usage (device TEXT NOT NULL, day TEXT NOT NULL, bytes BIGINT NOT NULL, PRIMARY KEY (device, day))
                    """, logger: logger)
                try await tx.query("""
                    CREATE TABLE IF NOT EXISTS blob_owners (sha256 TEXT PRIMARY KEY, device TEXT NOT NULL, bytes BIGINT NOT NULL, completed_at TEXT NOT NULL)
                    """, logger: logger)
                try await tx.query("CREATE INDEX IF NOT EXISTS records_type ON records(type)", logger: logger)
                try await Self.migrateIntegrity(tx, logger: logger)
                try await Self.migrateConsole(tx, logger: logger)
                try await Self.migrateRefusals(tx, logger: logger)
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

    public func merge(_ deltas: [RecordState], refused: [RefusalDraft], by device: DeviceRecord, at now: Date) async throws -> [MergeOutcome] {
        guard !deltas.isEmpty || !refused.isEmpty else { return [] }
        let logger = logger
        let channel = notifyChannel
        let (outcomes, touchedZones, refusals) = try await client.withTransaction(logger: logger) {
            tx -> ([MergeOutcome], Set<Zone>, RefusalLog.Plan) in
            // The feed lock first: see the type's documentation for why this makes the feed gap-free.
            // It also serialises the audit chain and replica bindings across nodes.
            try await tx.query("SELECT pg_advisory_xact_lock(\(Self.feedLock))", logger: logger)
            let ids = Array(Set(deltas.map(\.id.rawValue)))
            var existing: [RecordID: RecordState] = [:]
            var unreadable: [RecordID: ModelError] = [:]
            let rows = try await tx.query("SELECT id, state FROM records WHERE id = ANY(\(ids))", logger: logger)
            for try await (id, state) in rows.decode((String, String).self) {
                // One damaged record refuses the deltas to it, never the whole push.
                let key = try RecordID(id)
                do {
                    existing[key] = try MergeBatch.decodeStored(Array(state.utf8), id: key)
                } catch let error as ModelError {
                    unreadable[key] = error
                }
            }
            var owners: [ReplicaID: String] = [:]
            let named = MergeBatch.writingReplicas(deltas)
            let bound = try await tx.query(
                "SELECT replica, device FROM replicas WHERE device = \(device.name) OR replica = ANY(\(named))", logger: logger)
            for try await (replica, owner) in bound.decode((String, String).self) { owners[try ReplicaID(replica)] = owner }
            var history: [RecordID: [Dot: DeltaAdmission.Value]] = [:]
            for (id, wanted) in MergeBatch.historyWanted(deltas, existing) {
                let audited = try await tx.query("SELECT delta FROM audit WHERE record_id = \(id.rawValue) ORDER BY seq", logger: logger)
                var bodies: [[UInt8]] = []
                for try await (delta) in audited.decode(String.self) { bodies.append(Array(delta.utf8)) }
                history[id] = MergeBatch.auditedValues(bodies, wanted: wanted)
            }
            let (result, encoded) = MergeBatch.applyBounded(deltas, to: existing, unreadable: unreadable, by: device, owners: owners, history: history)
            let boundAt = Timestamp.format(now)
            for replica in result.bindings {
                try await tx.query(
                    "INSERT INTO replicas (replica, device, bound_at) VALUES (\(replica.rawValue), \(device.name), \(boundAt))", logger: logger)
            }
            let changed = result.changed
            if !changed.isEmpty {
                let ids = changed.map(\.id.rawValue)
                let types = changed.map(\.type.rawValue)
                let zones = changed.map(\.zone.rawValue)
                let bodies = changed.map { String(decoding: encoded[$0.id]?.bytes ?? $0.canonicalJSON, as: UTF8.self) }
                try await tx.query(
                    """
                    INSERT INTO records (id, type, zone, state, seq)
                    SELECT u.id, u.type, u.zone, u.state, nextval('change_seq')
                    FROM UNNEST(\(ids)::text[], \(types)::text[], \(zones)::text[], \(bodies)::text[]) WITH ORDINALITY AS u(id, type, zone, state, ord)
                    ORDER BY u.ord
                    ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, seq = EXCLUDED.seq
                    """, logger: logger)
                try await Self.updateDigests(tx, zip(changed, bodies).map { ($0.id.rawValue, $0.zone.rawValue, Array($1.utf8)) }, logger: logger)
                // Delivered to every node's listener when (and only if) this transaction commits.
                let touched = Set(zones).sorted().joined(separator: ",")
                try await tx.query("SELECT pg_notify(\(channel), \(touched))", logger: logger)
            }
            if !result.audited.isEmpty {
                var head: (seq: Int64, hash: String) = (0, AuditEntry.genesis)
                let last = try await tx.query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", logger: logger)
                for try await (s, h) in last.decode((Int64, String).self) { head = (s, h) }
                let entries = AuditEntry.chain(result.audited, after: head, at: now, device: device.name, changed: encoded)
                try await tx.query(
                    """
                    INSERT INTO audit (seq, at, device, replicas, record_id, delta, delta_hash, prev_hash, hash)
                    SELECT * FROM UNNEST(\(entries.map(\.seq))::bigint[], \(entries.map(\.at))::text[], \(entries.map(\.device))::text[],
                        \(entries.map { $0.replicas.joined(separator: ",") })::text[], \(entries.map(\.record))::text[],
                        \(entries.map { String(decoding: $0.delta, as: UTF8.self) })::text[], \(entries.map(\.deltaHash))::text[],
                        \(entries.map(\.previousHash))::text[], \(entries.map(\.hash))::text[])
                    """, logger: logger)
            }
            var refusals = RefusalLog.Plan()
            if RefusalLog.keeps(device.name) {
                refusals = RefusalLog.plan(
                    open: try await Self.openRefusals(tx, device: device.name, logger: logger), deltas: deltas, result: result, earlier: refused,
                    existing: existing, owners: owners, device: device.name)
                try await Self.keepRefusals(tx, refusals, device: device.name, at: now, logger: logger)
            }
            return (result.outcomes, Set(result.changed.map(\.zone)), refusals)
        }
        // Committed: this node's live pulls need not wait for the notification's round trip.
        changes.publish(zones: touchedZones)
        RefusalLog.report(refusals, device: device.name)
        return outcomes
    }

    public func replicaBindings() async throws -> [ReplicaBinding] {
        let rows = try await client.query("SELECT replica, device, bound_at FROM replicas ORDER BY device, bound_at, replica", logger: logger)
        var bindings: [ReplicaBinding] = []
        for try await (replica, device, at) in rows.decode((String, String, String).self) {
            bindings.append(ReplicaBinding(replica: replica, device: device, boundAt: at))
        }
        return bindings
    }

    public func bindReplica(_ replica: ReplicaID, to device: String, at: Date) async throws -> Bool {
        let rows = try await client.query(
            "INSERT INTO replicas (replica, device, bound_at) VALUES (\(replica.rawValue), \(device), \(Timestamp.format(at))) ON CONFLICT (replica) DO NOTHING RETURNING replica",
            logger: logger)
        var inserted = false
        for try await _ in rows.decode(String.self) { inserted = true }
        return inserted
    }

    public func auditEntries(after seq: Int64, record: RecordID?, limit: Int) async throws -> [AuditEntry] {
        let rows: PostgresRowSequence
        let columns = "seq, at, device, replicas, record_id, delta, delta_hash, prev_hash, hash"
        if let record {
            rows = try await client.query(
                "SELECT \(unescaped: columns) FROM audit WHERE record_id = \(record.rawValue) AND seq > \(seq) ORDER BY seq LIMIT \(limit)", logger: logger)
        } else {
            rows = try await client.query("SELECT \(unescaped: columns) FROM audit WHERE seq > \(seq) ORDER BY seq LIMIT \(limit)", logger: logger)
        }
        var entries: [AuditEntry] = []
        for try await row in rows.decode((Int64, String, String, String, String, String, String, String, String).self) {
            entries.append(AuditEntry(
                seq: row.0, at: row.1, device: row.2, replicas: row.3.split(separator: ",").map(String.init), record: row.4,
                delta: Array(row.5.utf8), deltaHash: row.6, previousHash: row.7, hash: row.8))
        }
        return entries
    }

    public func storedRecords(after id: String?, limit: Int) async throws -> [StoredRecord] {
        let rows = try await client.query(
            "SELECT id, type, zone, state FROM records WHERE id > \(id ?? "") ORDER BY id LIMIT \(limit)", logger: logger)
        var records: [StoredRecord] = []
        for try await (id, type, zone, state) in rows.decode((String, String, String, String).self) {
            records.append(StoredRecord(id: id, type: type, zone: zone, state: Array(state.utf8)))
        }
        return records
    }

    public func changeEncodings(after cursor: Int64, zones: [Zone], limit: Int, maxBytes: Int) async throws -> (states: [[UInt8]], cursor: Int64, more: Bool) {
        guard !zones.isEmpty else { return ([], cursor, false) }
        let zoneNames = zones.map(\.rawValue)
        let rows = try await client.query(
            "SELECT state, seq FROM records WHERE seq > \(cursor) AND zone = ANY(\(zoneNames)) ORDER BY seq LIMIT \(limit + 1)", logger: logger)
        var states: [[UInt8]] = []
        var last = cursor
        var more = false
        var bytes = 0
        for try await (state, seq) in rows.decode((String, Int64).self) {
            if states.count == limit || bytes >= maxBytes {
                more = true
                break
            }
            states.append(Array(state.utf8))
            bytes += states[states.count - 1].count
            last = seq
        }
        return (states, last, more)
    }

    public func latestCursor() async throws -> Int64 {
        try await client.withConnection { [logger] in try await Self.latestCursor(on: $0, logger: logger) }
    }

    public func records(zones: [Zone]) async throws -> [RecordState] {
        guard !zones.isEmpty else { return [] }
        let zoneNames = zones.map(\.rawValue)
        let rows = try await client.query("SELECT state FROM records WHERE zone = ANY(\(zoneNames)) ORDER BY id", logger: logger)
        var states: [RecordState] = []
        for try await (state) in rows.decode(String.self) { states.append(try JSONParser.parseRecordState(Array(state.utf8))) }
        return states
    }

    // MARK: Blob quotas

    public func reserveUploadBytes(device: String, day: String, bytes: Int64, limit: Int64) async throws -> Bool {
        // One statement: concurrent reservations (several nodes, parallel requests) serialise on the
        // row, and the condition is checked against the committed total.
        let rows = try await client.query(
            """
            INSERT INTO blob_usage (device, day, bytes) SELECT \(device), \(day), \(bytes) WHERE \(bytes) <= \(limit)
            ON CONFLICT (device, day) DO UPDATE SET bytes = blob_usage.bytes + EXCLUDED.bytes WHERE blob_usage.bytes + EXCLUDED.bytes <= \(limit)
            RETURNING bytes
            """, logger: logger)
        var reserved = false
        for try await _ in rows.decode(Int64.self) { reserved = true }
        return reserved
    }

    public func addUploadedBytes(device: String, day: String, bytes: Int64) async throws {
        try await client.query(
            "INSERT INTO blob_usage (device, day, bytes) VALUES (\(device), \(day), \(bytes)) ON CONFLICT (device, day) DO UPDATE SET bytes = blob_usage.bytes + EXCLUDED.bytes",
            logger: logger)
    }

    public func uploadedBytes(device: String, day: String) async throws -> Int64 {
        let rows = try await client.query("SELECT bytes FROM blob_usage WHERE device = \(device) AND day = \(day)", logger: logger)
        for try await (bytes) in rows.decode(Int64.self) { return bytes }
        return 0
    }

    public func recordBlob(sha256: String, device: String, bytes: Int64, at: Date) async throws {
        try await client.query(
            "INSERT INTO blob_owners (sha256, device, bytes, completed_at) VALUES (\(sha256), \(device), \(bytes), \(Timestamp.format(at))) ON CONFLICT (sha256) DO NOTHING",
            logger: logger)
    }

    public func unreferencedBlobs() async throws -> [UnreferencedBlob] {
        let rows = try await client.query("""
            SELECT sha256, device, bytes, completed_at FROM blob_owners b
            WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.type = 'photo' AND r.id LIKE 'photo:%:' || b.sha256)
            ORDER BY completed_at
            """, logger: logger)
        var blobs: [UnreferencedBlob] = []
        for try await (sha, device, bytes, at) in rows.decode((String, String, Int64, String).self) {
            blobs.append(UnreferencedBlob(sha256: sha, device: device, bytes: bytes, completedAt: Timestamp.parse(at) ?? Date(timeIntervalSince1970: 0)))
        }
        return blobs
    }

    public func isPhotoReferenced(sha256: String) async throws -> Bool {
        let pattern = "photo:%:" + sha256
        let rows = try await client.query("SELECT EXISTS(SELECT 1 FROM records WHERE type = 'photo' AND id LIKE \(pattern))", logger: logger)
        for try await (exists) in rows.decode(Bool.self) { return exists }
        return false
    }

    public func forgetBlob(sha256: String) async throws {
        try await client.query("DELETE FROM blob_owners WHERE sha256 = \(sha256)", logger: logger)
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
