import ButlerModel

/// An edit the server refused, as the outbox keeps it: never dropped silently, listed by
/// `butler refused list` until it is accepted (a held one, on a later sync) or discarded.
///
/// A refusal is either **final** — the same delta will be refused again, whatever happens
/// (`role-forbidden`, `foreign-dot`, `unknown-dots`, `record-too-large`, `dot-reused`,
/// `invalid-field`, …) — or **held**: its cause can clear without changing the edit (see
/// ``transientCodes``), so the delta stays pending and is pushed again on the next sync.
public struct RefusedEdit: Hashable, Sendable {
    /// The outbox sequence number: what `butler refused discard ID` takes.
    public let id: Int64
    public let record: RecordID
    /// The server's refusal code and message, as received.
    public let code: ErrorCode
    public let message: String
    /// Final (stays until discarded) or held (re-pushed on the next sync).
    public let isFinal: Bool

    public init(id: Int64, record: RecordID, code: ErrorCode, message: String, isFinal: Bool) {
        self.id = id
        self.record = record
        self.code = code
        self.message = message
        self.isFinal = isFinal
    }

    /// Refusal codes whose cause can clear with the edit unchanged; every other code is final.
    ///
    /// - `clock-ahead`: the device clock was more than 7 days fast. Once it is fixed, the engine
    ///   re-stamps the held edits before pushing (``SyncEngine/push(into:progress:)``).
    /// - `zone-forbidden`: the device was assigned the zone after its edit, and the server or the
    ///   device learns it later.
    /// - `storage-full`: the server's disk is full.
    /// - `quota-exceeded`: the device's daily allowance is used up; it renews.
    ///
    /// The one place the client decides what is worth retrying: the store, the engine, the daemon
    /// and the `butler` CLI all read it from here.
    public static let transientCodes: Set<ErrorCode> = ErrorCode.held

    /// Refusal codes that say this device's replica id is not its alone: a cloned image or a
    /// restored backup minted dots the server already holds (`dot-reused`), or another device holds
    /// the id (`foreign-dot`). The engine then moves the device to a fresh replica id and re-stamps
    /// its pending edits (``ClientStore/moveToReplica(_:)``), so they land instead of staying refused.
    public static let replicaConflictCodes: Set<ErrorCode> = [.dotReused, .foreignDot]

    /// Whether a refusal with `code` may clear (held) rather than being final.
    public static func isTransient(code: ErrorCode) -> Bool { transientCodes.contains(code) }

    /// `{"id", "record", "code", "message", "final"}`: one row of `butler refused list --json`.
    public var jsonValue: JSONValue {
        [
            "id": .int(id), "record": .string(record.rawValue), "code": .string(code.rawValue), "message": .string(message),
            "final": .bool(isFinal),
        ]
    }
}
