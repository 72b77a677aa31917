import ButlerFiles
import ButlerModel
import Foundation

/// The arithmetic both stores run in their merge transaction to keep the integrity tables
/// (`record_digests`: one hash per record; `zone_digests`: one ``ZoneDigest`` per zone) equal to
/// what a recomputation from the records would give (`Protocol/SYNC.md` §8.3).
enum RecordDigests {
    /// One written record: what its `record_digests` row becomes.
    struct Row: Sendable {
        let id: String
        let zone: String
        let bucket: Int
        let hash: String
    }

    /// The rows of records written with `bytes` (their canonical encodings, as stored).
    static func rows(_ written: [(id: String, zone: String, bytes: [UInt8])]) -> [Row] {
        written.map { Row(id: $0.id, zone: $0.zone, bucket: ZoneDigest.bucket(of: $0.id), hash: ZoneDigest.hashHex(of: $0.bytes)) }
    }

    /// How each zone's digest moves: the old hash of each written record out (`old`, by id; absent
    /// for a new record), the new one in.
    static func zoneChanges(_ rows: [Row], old: [String: String]) -> [String: ZoneDigest] {
        var changes: [String: ZoneDigest] = [:]
        for row in rows {
            var change = changes[row.zone] ?? ZoneDigest()
            if let previous = old[row.id].flatMap(ZoneDigest.bytes(hex:)) { change.remove(previous) }
            if let new = ZoneDigest.bytes(hex: row.hash) { change.add(new) }
            changes[row.zone] = change
        }
        return changes
    }

    /// The digest of each bucket from a zone's `(bucket, hash)` rows.
    static func buckets(_ hashes: [(bucket: Int, hash: String)]) -> [Int: ZoneDigest] {
        var buckets: [Int: ZoneDigest] = [:]
        for (bucket, hash) in hashes {
            guard let bytes = ZoneDigest.bytes(hex: hash) else { continue }
            buckets[bucket, default: ZoneDigest()].add(bytes)
        }
        return buckets
    }
}
