import ButlerModel
import Crypto
import Foundation

/// An accepted delta that is about to enter the audit log (the store fills in the rest).
struct AuditDraft: Hashable, Sendable {
    let record: RecordID
    /// The replicas that minted values in it (empty for a delta that only removes).
    let replicas: [ReplicaID]
    /// The delta's canonical JSON, as the device sent it.
    let delta: [UInt8]
}

/// One entry of the append-only audit log: which device changed which record, when the server
/// received it, and exactly what it sent.
///
/// Entries form a hash chain: each ``hash`` is the SHA-256 of the entry's canonical JSON, which
/// includes the previous entry's hash. Editing, inserting or deleting any entry but the newest
/// breaks every hash after it, which ``AuditEntry/verify(_:)`` finds. Deleting entries from the
/// end leaves a shorter valid chain, so an operator who wants that covered too records the head
/// hash (`butler-server audit verify` prints it) somewhere the database's owner cannot rewrite.
public struct AuditEntry: Hashable, Sendable {
    /// Position in the log, from 1, without gaps.
    public let seq: Int64
    /// When the server received the push (UTC, `Timestamp.format`).
    public let at: String
    public let device: String
    public let replicas: [String]
    public let record: String
    /// The delta's canonical JSON.
    public let delta: [UInt8]
    public let deltaHash: String
    public let previousHash: String
    public let hash: String

    /// The previous hash of the first entry.
    public static let genesis = String(repeating: "0", count: 64)

    /// Builds the entry that follows `previousHash`.
    init(seq: Int64, at: Date, device: String, draft: AuditDraft, previousHash: String) {
        self.seq = seq
        self.at = Timestamp.format(at)
        self.device = device
        self.replicas = draft.replicas.map(\.rawValue)
        self.record = draft.record.rawValue
        self.delta = draft.delta
        self.deltaHash = Self.sha256(draft.delta)
        self.previousHash = previousHash
        self.hash = Self.sha256(Self.chained(seq: seq, at: self.at, device: device, replicas: replicas, record: record, deltaHash: deltaHash, previous: previousHash))
    }

    /// An entry as stored (read back for showing or verifying).
    public init(seq: Int64, at: String, device: String, replicas: [String], record: String, delta: [UInt8], deltaHash: String, previousHash: String, hash: String) {
        self.seq = seq
        self.at = at
        self.device = device
        self.replicas = replicas
        self.record = record
        self.delta = delta
        self.deltaHash = deltaHash
        self.previousHash = previousHash
        self.hash = hash
    }

    /// What the entry hash covers: every member but the delta itself, which ``deltaHash`` covers.
    static func chained(seq: Int64, at: String, device: String, replicas: [String], record: String, deltaHash: String, previous: String) -> [UInt8] {
        JSONValue.object([
            "seq": .int(seq), "at": .string(at), "device": .string(device), "replicas": .array(replicas.map(JSONValue.string)),
            "record": .string(record), "deltaHash": .string(deltaHash), "previous": .string(previous),
        ]).canonicalBytes
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// Why this entry does not follow `previous` (the entry before it, or nil for the first), or nil.
    public func problem(after previous: AuditEntry?) -> String? {
        let expectedSeq = (previous?.seq ?? 0) + 1
        if seq != expectedSeq { return "entry \(seq) follows entry \(previous?.seq ?? 0): entries are missing or inserted" }
        let expectedPrevious = previous?.hash ?? Self.genesis
        if previousHash != expectedPrevious { return "entry \(seq) does not chain to the entry before it" }
        if Self.sha256(delta) != deltaHash { return "entry \(seq): the stored delta does not match its hash (edited)" }
        let recomputed = Self.sha256(Self.chained(seq: seq, at: at, device: device, replicas: replicas, record: record, deltaHash: deltaHash, previous: previousHash))
        if recomputed != hash { return "entry \(seq): its members do not match its hash (edited)" }
        return nil
    }

    /// The entry as JSON (`butler-server audit show --json`), the delta included as an object.
    public var jsonValue: JSONValue {
        [
            "seq": .int(seq), "at": .string(at), "device": .string(device), "replicas": .array(replicas.map(JSONValue.string)),
            "record": .string(record), "deltaHash": .string(deltaHash), "previousHash": .string(previousHash), "hash": .string(hash),
            "delta": (try? JSONParser.parse(delta)) ?? .string(String(decoding: delta, as: UTF8.self)),
        ]
    }

    /// One line for a person: when, who, and which fields the delta wrote.
    public var summary: String {
        let written = ((try? JSONParser.parseRecordState(delta))?.fields.keys.map(\.rawValue).sorted()) ?? []
        let what = written.isEmpty ? "removed values it had seen, wrote none" : "wrote " + written.joined(separator: ", ")
        return "\(seq)\t\(at)\t\(device)\t\(replicas.isEmpty ? "-" : replicas.joined(separator: ","))\t\(what)"
    }
}
