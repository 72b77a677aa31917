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

/// What merging one pushed delta did.
public enum MergeOutcome: Hashable, Sendable {
    /// Merged; `changed` is false when the server already held everything in it (a re-send);
    /// `conflicts` names the rule of each field of the merged record that holds a conflict.
    case merged(changed: Bool, conflicts: [ResolutionRule] = [])
    /// Refused: the delta names a record the server holds with another type or zone.
    case refused(ModelError)
}

/// The server's persistent state: devices, record states with their change sequence, and the
/// change feed. Implementations must make ``merge(_:)`` one transaction and guarantee that a
/// change committed after a cursor was handed out is never ordered before that cursor.
public protocol SyncStorage: Sendable {
    /// Creates or upgrades the schema; safe to run on every start.
    func migrate() async throws
    /// Checks the store answers.
    func health() async throws

    func addDevice(name: String, role: DeviceRole, zones: [Zone], tokenHash: String, at: Date) async throws
    /// Revokes a device; returns false when there is no such device.
    func revokeDevice(name: String, at: Date) async throws -> Bool
    func devices() async throws -> [DeviceRecord]
    /// The device a token hash belongs to, revoked or not.
    func device(tokenHash: String) async throws -> DeviceRecord?

    /// Merges deltas in one transaction, in order; one outcome per delta.
    func merge(_ deltas: [RecordState]) async throws -> [MergeOutcome]
    /// The stored canonical encodings of the records in `zones` changed after `cursor`, in change
    /// order: what a pull page sends as it is, without decoding and re-encoding each state.
    func changeEncodings(after cursor: Int64, zones: [Zone], limit: Int) async throws -> (states: [[UInt8]], cursor: Int64, more: Bool)
    /// The latest change sequence number.
    func latestCursor() async throws -> Int64
    /// Every record in `zones` (for the supervisor views).
    func records(zones: [Zone]) async throws -> [RecordState]
    /// Whether a photo record for blob `sha256` exists in one of `zones`.
    func isPhotoVisible(sha256: String, zones: [Zone]) async throws -> Bool
    /// The stored canonical encoding of record `id`, or `nil` when there is none.
    func encodedRecord(id: RecordID) async throws -> [UInt8]?
}

extension SyncStorage {
    /// Current states of the records in `zones` changed after `cursor`, in change order.
    public func changes(after cursor: Int64, zones: [Zone], limit: Int) async throws -> (changes: [RecordState], cursor: Int64, more: Bool) {
        let page = try await changeEncodings(after: cursor, zones: zones, limit: limit)
        return (try page.states.map { try JSONParser.parseRecordState($0) }, page.cursor, page.more)
    }
}
