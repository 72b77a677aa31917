import ButlerFiles
import ButlerModel
import Foundation
import GRDB

/// The integrity tables of the embedded store (`Protocol/SYNC.md` §8.3): `record_digests` holds
/// each record's hash and bucket, `zone_digests` each zone's digest; both change in the merge
/// transaction that changes a record, so they always describe the committed records.
extension SQLiteStorage {
    static func registerIntegrityMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v3-digests") { db in
            try db.execute(sql: """
                CREATE TABLE record_digests (
                    id TEXT PRIMARY KEY NOT NULL,
                    zone TEXT NOT NULL,
                    bucket INTEGER NOT NULL,
                    hash TEXT NOT NULL
                );
                CREATE INDEX record_digests_bucket ON record_digests(zone, bucket, id);
                CREATE TABLE zone_digests (zone TEXT PRIMARY KEY NOT NULL, digest TEXT NOT NULL);
                """)
            // The records already stored get their hashes now, in batches.
            var after = ""
            while true {
                let rows = try Row.fetchAll(db, sql: "SELECT id, zone, state FROM records WHERE id > ? ORDER BY id LIMIT 1000", arguments: [after])
                guard let last = rows.last else { break }
                after = last["id"]
                try updateDigests(db, rows.map { row in (row["id"], row["zone"], [UInt8](row["state"] as Data)) })
            }
        }
    }

    /// Moves the integrity tables to the records just written (called in the merge transaction).
    static func updateDigests(_ db: Database, _ written: [(id: String, zone: String, bytes: [UInt8])]) throws {
        guard !written.isEmpty else { return }
        let rows = RecordDigests.rows(written)
        var old: [String: String] = [:]
        let select = try db.cachedStatement(sql: "SELECT hash FROM record_digests WHERE id = ?")
        let upsert = try db.cachedStatement(sql: """
            INSERT INTO record_digests (id, zone, bucket, hash) VALUES (?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET hash = excluded.hash
            """)
        for row in rows {
            if old[row.id] == nil, let hash = try String.fetchOne(select, arguments: [row.id]) { old[row.id] = hash }
            try upsert.execute(arguments: [row.id, row.zone, row.bucket, row.hash])
        }
        // A record written twice in one batch: its first old hash goes out, its last hash stays in.
        let last = Dictionary(rows.map { ($0.id, $0) }, uniquingKeysWith: { _, later in later })
        let changes = RecordDigests.zoneChanges(Array(last.values), old: old)
        let read = try db.cachedStatement(sql: "SELECT digest FROM zone_digests WHERE zone = ?")
        let write = try db.cachedStatement(sql: """
            INSERT INTO zone_digests (zone, digest) VALUES (?, ?) ON CONFLICT(zone) DO UPDATE SET digest = excluded.digest
            """)
        for (zone, change) in changes {
            var digest = try String.fetchOne(read, arguments: [zone]).flatMap(ZoneDigest.init(hex:)) ?? ZoneDigest()
            digest.combine(change)
            try write.execute(arguments: [zone, digest.hex])
        }
    }

    public func zoneChecksums(zones: [Zone], validAt cursor: Int64) async throws -> [Zone: ZoneDigest]? {
        guard !zones.isEmpty else { return [:] }
        return try await pool.read { db in
            // One read transaction: one snapshot of records and digests, which commit together.
            let placeholders = zones.map { _ in "?" }.joined(separator: ",")
            let names = zones.map(\.rawValue)
            let later = try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM records WHERE seq > ? AND zone IN (\(placeholders)))"),
                arguments: StatementArguments([cursor] as [any DatabaseValueConvertible] + names)) ?? false
            if later { return nil }
            var sums = Dictionary(uniqueKeysWithValues: zones.map { ($0, ZoneDigest()) })
            let rows = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT zone, digest FROM zone_digests WHERE zone IN (\(placeholders))"), arguments: StatementArguments(names))
            for row in rows {
                guard let zone = try? Zone(row["zone"] as String), let digest = ZoneDigest(hex: row["digest"]) else { continue }
                sums[zone] = digest
            }
            return sums
        }
    }

    public func recordHashes(zone: Zone) async throws -> [(bucket: Int, hash: String)] {
        try await pool.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT bucket, hash FROM record_digests WHERE zone = ?"), arguments: [zone.rawValue])
                .map { (bucket: $0["bucket"], hash: $0["hash"]) }
        }
    }

    public func recordHashes(zone: Zone, bucket: Int, after: String?, limit: Int) async throws -> [(id: String, hash: String)] {
        try await pool.read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT id, hash FROM record_digests WHERE zone = ? AND bucket = ? AND id > ? ORDER BY id LIMIT ?"),
                arguments: [zone.rawValue, bucket, after ?? "", limit]
            ).map { (id: $0["id"], hash: $0["hash"]) }
        }
    }

    public func encodedRecords(ids: [RecordID], zone: Zone) async throws -> [[UInt8]] {
        guard !ids.isEmpty else { return [] }
        return try await pool.read { db in
            let placeholders = ids.map { _ in "?" }.joined(separator: ",")
            return try Data.fetchAll(
                db, sql: "SELECT state FROM records WHERE zone = ? AND id IN (\(placeholders)) ORDER BY id",
                arguments: StatementArguments([zone.rawValue] + ids.map(\.rawValue))
            ).map { [UInt8]($0) }
        }
    }
}
