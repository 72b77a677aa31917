import ButlerModel
import Crypto
import Foundation

/// An accepted delta that is about to enter the audit log (the store fills in the rest).
struct AuditDraft: Hashable, Sendable {
    let record: RecordID
    /// The replicas that minted values in it (empty for a delta that only removes).
    let replicas: [ReplicaID]
    let delta: RecordState
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

    /// The entries for the deltas `drafts` accepted in one push transaction, chained after `head`.
    ///
    /// `encoded` holds the canonical JSON of the records the push changed (what the store writes):
    /// a delta equal to its record's new state (the usual creation: one delta, a new record) reuses
    /// those bytes instead of encoding the same state a second time.
    static func chain(
        _ drafts: [AuditDraft], after head: (seq: Int64, hash: String), at: Date, device: String, changed: [RecordID: (state: RecordState, bytes: [UInt8])]
    ) -> [AuditEntry] {
        var seq = head.seq
        var previous = head.hash
        let time = Timestamp.format(at)
        return drafts.map { draft in
            seq += 1
            let bytes = changed[draft.record].flatMap { $0.state == draft.delta ? $0.bytes : nil } ?? draft.delta.canonicalJSON
            let entry = AuditEntry(seq: seq, at: time, device: device, record: draft.record, replicas: draft.replicas, delta: bytes, previousHash: previous)
            previous = entry.hash
            return entry
        }
    }

    /// Builds the entry that follows `previousHash`.
    init(seq: Int64, at: String, device: String, record: RecordID, replicas: [ReplicaID], delta: [UInt8], previousHash: String) {
        self.seq = seq
        self.at = at
        self.device = device
        self.replicas = replicas.map(\.rawValue)
        self.record = record.rawValue
        self.delta = delta
        self.deltaHash = Self.sha256(delta)
        self.previousHash = previousHash
        self.hash = Self.sha256(
            Self.chained(seq: seq, at: at, device: device, replicas: self.replicas, record: self.record, deltaHash: deltaHash, previous: previousHash))
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
        // The canonical JSON of {at, deltaHash, device, previous, record, replicas, seq} (members in
        // byte order), written directly: this runs once per accepted delta inside the push.
        var text = #"{"at":"# + JSONValue.string(at).canonicalString
        text += #","deltaHash":"# + JSONValue.string(deltaHash).canonicalString
        text += #","device":"# + JSONValue.string(device).canonicalString
        text += #","previous":"# + JSONValue.string(previous).canonicalString
        text += #","record":"# + JSONValue.string(record).canonicalString
        text += #","replicas":["# + replicas.map { JSONValue.string($0).canonicalString }.joined(separator: ",")
        text += #"],"seq":\#(seq)}"#
        return Array(text.utf8)
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256Hasher.hexString(Array(SHA256.hash(data: bytes)))
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
