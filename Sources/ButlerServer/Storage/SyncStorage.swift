import ButlerFiles
import ButlerModel
import Foundation

/// A registered device: its name, role, zones, and whether it was revoked.
public struct DeviceRecord: Hashable, Sendable {
    public let name: String
    public let role: DeviceRole
    public let zones: [Zone]
    public let createdAt: Date
    public let revokedAt: Date?

    public init(name: String, role: DeviceRole, zones: [Zone], createdAt: Date, revokedAt: Date?) {
        self.name = name
        self.role = role
        self.zones = zones
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    public var info: DeviceInfo { DeviceInfo(name: name, role: role, zones: zones) }

    public var jsonValue: JSONValue {
        [
            "name": .string(name), "role": .string(role.rawValue), "zones": .array(zones.map { .string($0.rawValue) }),
            "createdAt": .string(Timestamp.format(createdAt)),
            "revokedAt": revokedAt.map { .string(Timestamp.format($0)) } ?? .null,
        ]
    }
}

/// A replica id the server has bound to a device (at the device's first push minting with it).
public struct ReplicaBinding: Hashable, Sendable {
    public let replica: String
    public let device: String
    public let boundAt: String
}

/// A complete blob that no photo record references.
public struct UnreferencedBlob: Hashable, Sendable {
    public let sha256: String
    public let device: String
    public let bytes: Int64
    public let completedAt: Date
}

/// One row of the records table as stored: its columns and the state's bytes, not decoded.
public struct StoredRecord: Hashable, Sendable {
    public let id: String
    public let type: String
    public let zone: String
    public let state: [UInt8]
}

/// What merging one pushed delta did.
public enum MergeOutcome: Hashable, Sendable {
    /// Merged; `changed` is false when the server already held everything in it (a re-send);
    /// `conflicts` names the rule of each field of the merged record that holds a conflict.
    case merged(changed: Bool, conflicts: [ResolutionRule] = [])
    /// Refused: a claim of the delta does not hold (see ``DeltaAdmission``), or it names a record
    /// the server holds with another type or zone.
    case refused(ModelError)
}

/// The server's persistent state: devices, record states with their change sequence, and the
/// change feed. Implementations must make ``merge(_:)`` one transaction and guarantee that a
/// change committed after a cursor was handed out is never ordered before that cursor.
public protocol SyncStorage: Sendable {
    /// Creates or upgrades the schema; safe to run on every start.
    func migrate() async throws
    /// Published after every committed merge that changed records, with their zones — on
    /// PostgreSQL also for the commits of other nodes — so live pulls wake (``ChangeSignal``).
    var changes: ChangeSignal { get }
    /// Checks the store answers.
    func health() async throws

    func addDevice(name: String, role: DeviceRole, zones: [Zone], tokenHash: String, at: Date) async throws
    /// Revokes a device; returns false when there is no such device.
    func revokeDevice(name: String, at: Date) async throws -> Bool
    func devices() async throws -> [DeviceRecord]
    /// The device a token hash belongs to, revoked or not.
    func device(tokenHash: String) async throws -> DeviceRecord?

    /// Merges deltas pushed by `device`, received at `at`, in one transaction, in order; one outcome
    /// per delta. Each delta is checked by ``DeltaAdmission`` against the state it merges into
    /// (a refusal touches only that delta), replica ids met for the first time are bound to the
    /// device, and every delta that changed a record is appended to the audit log — all in the same
    /// transaction as the merge.
    ///
    /// `refused` are this push's deltas refused before the store (``SyncRoutes/refusal(of:by:now:)``,
    /// unreadable ones): they and the merge's own refusals are kept as the device's pending
    /// refusals in the same transaction, and the merge resolves those it ends (``RefusalLog``).
    func merge(_ deltas: [RecordState], refused: [RefusalDraft], by device: DeviceRecord, at: Date) async throws -> [MergeOutcome]
    /// Every device's pending refusals (``RefusalLog``), by device, oldest first.
    func pendingRefusals() async throws -> [PendingRefusal]
    /// Ends the pending refusals of `device` that `resolutions` name; returns how many ended.
    func resolveRefusals(device: String, _ resolutions: [RefusalResolution]) async throws -> Int
    /// Which device each bound replica id belongs to.
    func replicaBindings() async throws -> [ReplicaBinding]
    /// Binds a new replica id to `device` (one the server issued); false when the id is taken.
    func bindReplica(_ replica: ReplicaID, to device: String, at: Date) async throws -> Bool
    /// Audit entries after `seq` in log order, only those of `record` when given.
    func auditEntries(after seq: Int64, record: RecordID?, limit: Int) async throws -> [AuditEntry]
    /// Stored records by id after `id`, as stored (for `butler-server check`).
    func storedRecords(after id: String?, limit: Int) async throws -> [StoredRecord]

    /// Adds `bytes` to what `device` may upload on `day` (`yyyy-mm-dd`, UTC) when the total stays
    /// within `limit`, in one statement; false (nothing added) otherwise.
    func reserveUploadBytes(device: String, day: String, bytes: Int64, limit: Int64) async throws -> Bool
    /// Adds photo bytes `device` uploaded on `day` (negative: gives back a reservation).
    func addUploadedBytes(device: String, day: String, bytes: Int64) async throws
    /// Photo bytes `device` uploaded on `day`.
    func uploadedBytes(device: String, day: String) async throws -> Int64
    /// Records that `device` completed the upload of blob `sha256` (the first uploader keeps it).
    func recordBlob(sha256: String, device: String, bytes: Int64, at: Date) async throws
    /// Complete blobs no photo record references, with who uploaded them and when.
    func unreferencedBlobs() async throws -> [UnreferencedBlob]
    /// Whether a photo record in any zone references blob `sha256`.
    func isPhotoReferenced(sha256: String) async throws -> Bool
    /// Forgets the uploader of a deleted blob.
    func forgetBlob(sha256: String) async throws
    /// The stored canonical encodings of the records in `zones` changed after `cursor`, in change
    /// order: what a pull page sends as it is, without decoding and re-encoding each state.
    /// A page holds at most `limit` states and stops after the state that reaches `maxBytes` (it
    /// always holds at least one), so no page grows without bound whatever the records hold.
    func changeEncodings(after cursor: Int64, zones: [Zone], limit: Int, maxBytes: Int) async throws -> (states: [[UInt8]], cursor: Int64, more: Bool)
    /// The latest change sequence number.
    func latestCursor() async throws -> Int64
    /// Every record in `zones` (for the supervisor views).
    func records(zones: [Zone]) async throws -> [RecordState]
    /// Whether a photo record for blob `sha256` exists in one of `zones`.
    func isPhotoVisible(sha256: String, zones: [Zone]) async throws -> Bool
    /// The stored canonical encoding of record `id`, or `nil` when there is none.
    func encodedRecord(id: RecordID) async throws -> [UInt8]?

    // Integrity (`Protocol/SYNC.md` §8.3): every store keeps, in the merge transaction, each
    // record's hash and each zone's digest (``ZoneDigest``); see `*Storage+Integrity.swift`.

    /// The digest of each of `zones` as it stands at `cursor`: read in one snapshot, and `nil` when
    /// a change to one of `zones` committed after `cursor` (the digests would not match what a
    /// client that pulled up to `cursor` holds).
    func zoneChecksums(zones: [Zone], validAt cursor: Int64) async throws -> [Zone: ZoneDigest]?
    /// The hash (hex) of every record of `zone` with its bucket (``ZoneDigest/bucket(of:)``).
    func recordHashes(zone: Zone) async throws -> [(bucket: Int, hash: String)]
    /// The records of one bucket of `zone` by id after `after`, at most `limit`, with their hashes.
    func recordHashes(zone: Zone, bucket: Int, after: String?, limit: Int) async throws -> [(id: String, hash: String)]
    /// The stored canonical encodings of those of `ids` that the store holds in `zone`, by id.
    func encodedRecords(ids: [RecordID], zone: Zone) async throws -> [[UInt8]]
}

extension SyncStorage {
    /// ``merge(_:refused:by:at:)`` of a push none of whose deltas was refused before the store.
    public func merge(_ deltas: [RecordState], by device: DeviceRecord, at: Date) async throws -> [MergeOutcome] {
        try await merge(deltas, refused: [], by: device, at: at)
    }

    /// Current states of the records in `zones` changed after `cursor`, in change order.
    public func changes(after cursor: Int64, zones: [Zone], limit: Int) async throws -> (changes: [RecordState], cursor: Int64, more: Bool) {
        let page = try await changeEncodings(after: cursor, zones: zones, limit: limit, maxBytes: Int.max)
        return (try page.states.map { try JSONParser.parseRecordState($0) }, page.cursor, page.more)
    }
}
