import ButlerFiles
import ButlerModel
import Foundation
import Logging
import PostgresNIO

/// The integrity tables on PostgreSQL (`Protocol/SYNC.md` §8.3): `record_digests` (each record's
/// hash and bucket) and `zone_digests` (each zone's digest), changed in the merge transaction under
/// the feed lock, so they always describe the committed records.
extension PostgresStorage {
    /// Creates the tables; on a store that has records but no digests yet (an upgrade), computes
    /// them. Runs in the migration transaction, under the migration lock.
    static func migrateIntegrity(_ tx: PostgresConnection, logger: Logger) async throws {
        try await tx.query("""
            CREATE TABLE IF NOT EXISTS record_digests (id TEXT PRIMARY KEY, zone TEXT NOT NULL, bucket INTEGER NOT NULL, hash TEXT NOT NULL)
            """, logger: logger)
        try await tx.query("CREATE INDEX IF NOT EXISTS record_digests_bucket ON record_digests(zone, bucket, id)", logger: logger)
        try await tx.query("CREATE TABLE IF NOT EXISTS zone_digests (zone TEXT PRIMARY KEY, digest TEXT NOT NULL)", logger: logger)
        let missing = try await tx.query(
            "SELECT EXISTS(SELECT 1 FROM records) AND NOT EXISTS(SELECT 1 FROM record_digests)", logger: logger)
        var backfill = false
        for try await (value) in missing.decode(Bool.self) { backfill = value }
        guard backfill else { return }
        // Merges wait while the digests of the records already stored are computed.
        try await tx.query("SELECT pg_advisory_xact_lock(\(Self.feedLock))", logger: logger)
        var after = ""
        while true {
            let rows = try await tx.query("SELECT id, zone, state FROM records WHERE id > \(after) ORDER BY id LIMIT 1000", logger: logger)
            var written: [(id: String, zone: String, bytes: [UInt8])] = []
            for try await (id, zone, state) in rows.decode((String, String, String).self) { written.append((id, zone, Array(state.utf8))) }
            guard let last = written.last else { break }
            after = last.id
            try await updateDigests(tx, written, logger: logger)
        }
    }

    /// Moves the integrity tables to the records just written (called in the merge transaction).
    static func updateDigests(_ tx: PostgresConnection, _ written: [(id: String, zone: String, bytes: [UInt8])], logger: Logger) async throws {
        guard !written.isEmpty else { return }
        let rows = Array(Dictionary(RecordDigests.rows(written).map { ($0.id, $0) }, uniquingKeysWith: { _, later in later }).values)
        let ids = rows.map(\.id)
        var old: [String: String] = [:]
        let held = try await tx.query("SELECT id, hash FROM record_digests WHERE id = ANY(\(ids))", logger: logger)
        for try await (id, hash) in held.decode((String, String).self) { old[id] = hash }
        try await tx.query(
            """
            INSERT INTO record_digests (id, zone, bucket, hash)
            SELECT * FROM UNNEST(\(ids)::text[], \(rows.map(\.zone))::text[], \(rows.map(\.bucket))::int[], \(rows.map(\.hash))::text[])
            ON CONFLICT (id) DO UPDATE SET hash = EXCLUDED.hash
            """, logger: logger)
        let changes = RecordDigests.zoneChanges(rows, old: old)
        let zones = Array(changes.keys)
        var digests: [String: ZoneDigest] = [:]
        let current = try await tx.query("SELECT zone, digest FROM zone_digests WHERE zone = ANY(\(zones))", logger: logger)
        for try await (zone, digest) in current.decode((String, String).self) { digests[zone] = ZoneDigest(hex: digest) }
        let updated = zones.map { zone in
            var digest = digests[zone] ?? ZoneDigest()
            digest.combine(changes[zone]!)
            return digest.hex
        }
        try await tx.query(
            """
            INSERT INTO zone_digests (zone, digest) SELECT * FROM UNNEST(\(zones)::text[], \(updated)::text[])
            ON CONFLICT (zone) DO UPDATE SET digest = EXCLUDED.digest
            """, logger: logger)
    }

    public func zoneChecksums(zones: [Zone], validAt cursor: Int64) async throws -> [Zone: ZoneDigest]? {
        guard !zones.isEmpty else { return [:] }
        let names = zones.map(\.rawValue)
        // One statement, so one snapshot: the digests and the records they describe commit together.
        let rows = try await client.query(
            """
            SELECT z.zone, d.digest, EXISTS(SELECT 1 FROM records WHERE seq > \(cursor) AND zone = ANY(\(names)))
            FROM UNNEST(\(names)::text[]) AS z(zone) LEFT JOIN zone_digests d ON d.zone = z.zone
            """, logger: logger)
        var sums: [Zone: ZoneDigest] = [:]
        for try await (zone, digest, later) in rows.decode((String, String?, Bool).self) {
            if later { return nil }
            sums[try Zone(zone)] = digest.flatMap(ZoneDigest.init(hex:)) ?? ZoneDigest()
        }
        return sums
    }

    public func recordHashes(zone: Zone) async throws -> [(bucket: Int, hash: String)] {
        let rows = try await client.query("SELECT bucket, hash FROM record_digests WHERE zone = \(zone.rawValue)", logger: logger)
        var hashes: [(bucket: Int, hash: String)] = []
        for try await (bucket, hash) in rows.decode((Int, String).self) { hashes.append((bucket, hash)) }
        return hashes
    }

    public func recordHashes(zone: Zone, bucket: Int, after: String?, limit: Int) async throws -> [(id: String, hash: String)] {
        let rows = try await client.query(
            "SELECT id, hash FROM record_digests WHERE zone = \(zone.rawValue) AND bucket = \(bucket) AND id > \(after ?? "") ORDER BY id LIMIT \(limit)",
            logger: logger)
        var hashes: [(id: String, hash: String)] = []
        for try await (id, hash) in rows.decode((String, String).self) { hashes.append((id, hash)) }
        return hashes
    }

    public func encodedRecords(ids: [RecordID], zone: Zone) async throws -> [[UInt8]] {
        guard !ids.isEmpty else { return [] }
        let rows = try await client.query(
            "SELECT state FROM records WHERE zone = \(zone.rawValue) AND id = ANY(\(ids.map(\.rawValue))) ORDER BY id", logger: logger)
        var states: [[UInt8]] = []
        for try await (state) in rows.decode(String.self) { states.append(Array(state.utf8)) }
        return states
    }
}
