import ButlerModel
import Crypto
import Foundation
import GRDB

/// Who this device is and which server it syncs with.
public struct DeviceIdentity: Hashable, Sendable {
    public let replica: ReplicaID
    /// The person's display name, written into every edit for attribution.
    public let name: String
    public let serverURL: String
    public let token: String
    /// What the server said about this device (role and zones), once it has been reached.
    public let device: DeviceInfo?

    public var author: Author {
        get throws { try Author(replica: replica, name: name) }
    }
}

/// What is waiting on the device: the shape of `butler status --json`.
public struct StoreStatus: Hashable, Sendable {
    /// Local edits not yet accepted by the server (held ones included).
    public let pendingEdits: Int
    /// Edits the server refused for good (kept for review until discarded, never dropped).
    public let refusedEdits: Int
    /// Pending edits the server refused for a reason that can clear (``RefusedEdit/transientCodes``):
    /// pushed again on the next sync.
    public let heldEdits: Int
    /// Bytes of photos not yet uploaded.
    public let pendingPhotoBytes: Int64
    /// Photos referenced by synced records whose bytes are not on this device yet.
    public let missingPhotos: Int
    public let lastSync: Date?
    public let server: String?
    public let replica: String?

    public var jsonValue: JSONValue {
        [
            "pendingEdits": .int(Int64(pendingEdits)), "refusedEdits": .int(Int64(refusedEdits)), "heldEdits": .int(Int64(heldEdits)),
            "pendingPhotoBytes": .int(pendingPhotoBytes), "missingPhotos": .int(Int64(missingPhotos)),
            "lastSync": lastSync.map { .string(Timestamp.format($0)) } ?? .null,
            "server": server.map(JSONValue.string) ?? .null, "replica": replica.map(JSONValue.string) ?? .null,
        ]
    }
}

extension ClientStore {
    enum MetaKey: String {
        case replica, name, serverURL = "server_url", token, cursor, hlc
        case lastSync = "last_sync", device
    }

    static func meta(_ db: Database, _ key: MetaKey) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM meta WHERE key = ?"), arguments: [key.rawValue])
    }

    static func setMeta(_ db: Database, _ key: MetaKey, _ value: String?) throws {
        if let value {
            // A value that did not change writes nothing: the transaction then commits without
            // touching the file (no WAL frame, no fsync). A sync that finds nothing new (the same
            // role and zones, an empty pull page) costs the device no disk write.
            try db.cachedStatement(sql: """
                INSERT INTO meta (key, value) VALUES (?, ?)
                ON CONFLICT(key) DO UPDATE SET value = excluded.value WHERE meta.value IS NOT excluded.value
                """
            ).execute(arguments: [key.rawValue, value])
        } else {
            try db.execute(sql: "DELETE FROM meta WHERE key = ?", arguments: [key.rawValue])
        }
    }

    /// Sets the device up: a fresh replica id, the person's name, the server and its token.
    ///
    /// - Throws: ``ClientError/Code/alreadyInitialized`` when the store already has an identity
    ///   (a second init would mint a second replica id for the same records).
    @discardableResult
    public func initialize(name: String, serverURL: String, token: String, replica: ReplicaID? = nil) throws -> DeviceIdentity {
        guard let url = URL(string: serverURL), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw ClientError(.invalidArgument, "the server URL must look like http://host:port, got \"\(serverURL)\"")
        }
        guard !token.isEmpty, token.utf8.count <= 512, token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw ClientError(.invalidArgument, "the token must be 1–512 printable characters without spaces")
        }
        _ = try ClientError.mapping { try Author(replica: ReplicaID("x"), name: name) }
        let replica = try replica ?? newReplicaID()
        return try write { db in
            if let existing = try Self.meta(db, .replica) {
                throw ClientError(.alreadyInitialized, "this store is already initialised as replica \(existing)")
            }
            try Self.setMeta(db, .replica, replica.rawValue)
            try Self.setMeta(db, .name, name)
            try Self.setMeta(db, .serverURL, serverURL.hasSuffix("/") ? String(serverURL.dropLast()) : serverURL)
            try Self.setMeta(db, .token, token)
            return try Self.identity(db)
        }
    }

    /// A new random replica id: `d` and 16 hex digits (64 bits).
    func newReplicaID() throws -> ReplicaID {
        try ReplicaID("d" + entropy.hex(bytes: 8))
    }

    static func identity(_ db: Database) throws -> DeviceIdentity {
        // One statement for the five keys: this runs in every edit's transaction.
        var values: [String: String] = [:]
        let keys: [MetaKey] = [.replica, .name, .serverURL, .token, .device]
        let statement = try db.cachedStatement(sql: "SELECT key, value FROM meta WHERE key IN (?, ?, ?, ?, ?)")
        for row in try Row.fetchAll(statement, arguments: StatementArguments(keys.map(\.rawValue))) {
            values[row["key"]] = row["value"]
        }
        guard let replica = values[MetaKey.replica.rawValue], let name = values[MetaKey.name.rawValue],
            let url = values[MetaKey.serverURL.rawValue], let token = values[MetaKey.token.rawValue]
        else { throw ClientError(.notInitialized, "this device is not set up: run `butler init --server URL --token TOKEN` first") }
        let device = try values[MetaKey.device.rawValue].flatMap { try DeviceInfo(json: JSONParser.parse($0)) }
        return DeviceIdentity(replica: try ReplicaID(replica), name: name, serverURL: url, token: token, device: device)
    }

    /// The device's identity.
    public func identity() throws -> DeviceIdentity {
        try read { db in try Self.identity(db) }
    }

    /// Whether `initialize` has run.
    public func isInitialized() throws -> Bool {
        try read { db in try Self.meta(db, .replica) != nil }
    }

    /// Records what the server said about this device (role, zones).
    public func setDeviceInfo(_ info: DeviceInfo) throws {
        try write { db in try Self.setMeta(db, .device, info.jsonValue.canonicalString) }
    }

    /// The hybrid logical clock, stored as one row `millis.logical`.
    static func loadClock(_ db: Database) throws -> HybridLogicalClock {
        guard let text = try meta(db, .hlc) else { return HybridLogicalClock() }
        let parts = text.split(separator: ".")
        guard parts.count == 2, let millis = Int64(parts[0]), let logical = UInt32(parts[1]) else {
            throw ClientError(.database, "the stored clock \"\(text)\" is damaged")
        }
        return HybridLogicalClock(last: HLCTimestamp(millis: millis, logical: logical))
    }

    /// The clock that stamps a local edit made at wall time `now`: the stored one, or — when the
    /// stored one is more than ``HybridLogicalClock/maxForwardDrift`` ahead of `now` — a clock
    /// restarted from the wall clock. A stored clock that far ahead means the device clock was
    /// wrong and has been corrected backwards; following it would stamp every new edit in the
    /// future, and the server refuses those (`clock-ahead`) for as long as it stays ahead.
    func editClock(_ db: Database, now: Date) throws -> HybridLogicalClock {
        let stored = try Self.loadClock(db)
        guard stored.last.millis > HybridLogicalClock.millis(now) + HybridLogicalClock.maxForwardDrift else { return stored }
        logger.info(
            "the stored clock is far ahead of the device clock, which was corrected backwards: restarting it from the device clock",
            metadata: ["clock.stored": "\(stored.last)", "clock.wall": "\(HybridLogicalClock.millis(now))"])
        return HybridLogicalClock()
    }

    static func saveClock(_ db: Database, _ clock: HybridLogicalClock) throws {
        try setMeta(db, .hlc, "\(clock.last.millis).\(clock.last.logical)")
    }

    /// The change-feed cursor of the last page merged.
    public func cursor() throws -> String? {
        try read { db in try Self.meta(db, .cursor) }
    }

    /// What is waiting to sync.
    public func status() throws -> StoreStatus {
        try read { db in
            // One statement, cached: every sync asks (the push bounds its rounds by it).
            let counts = try Row.fetchOne(
                db.cachedStatement(sql: """
                    SELECT
                        (SELECT COUNT(*) FROM outbox WHERE \(Self.pendingCondition)) AS pending,
                        (SELECT COUNT(*) FROM outbox WHERE refusal = 'final') AS refused,
                        (SELECT COUNT(*) FROM outbox WHERE refusal = 'held') AS held,
                        (SELECT COALESCE(SUM(size - uploaded_bytes), 0) FROM blobs WHERE state = 'local') AS photo_bytes,
                        (SELECT COUNT(*) FROM blobs WHERE state = 'missing') AS missing
                    """))
            return StoreStatus(
                pendingEdits: counts?["pending"] ?? 0, refusedEdits: counts?["refused"] ?? 0, heldEdits: counts?["held"] ?? 0,
                pendingPhotoBytes: counts?["photo_bytes"] ?? 0, missingPhotos: counts?["missing"] ?? 0,
                lastSync: try Self.meta(db, .lastSync).flatMap(Timestamp.parse), server: try Self.meta(db, .serverURL),
                replica: try Self.meta(db, .replica))
        }
    }
}

