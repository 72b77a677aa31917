import ButlerModel
import Crypto
import Foundation

/// An order-independent digest of a set of records: the XOR of the SHA-256 of each record's
/// canonical state bytes. The one implementation the server (which keeps one per zone, updated in
/// every merge transaction) and the client (which recomputes it over what it holds) share, so the
/// two can be compared (`Protocol/SYNC.md` §8.3).
///
/// XOR makes the digest independent of the order records are added in, and makes removal the same
/// operation as addition: a record that changes from state `a` to state `b` moves the digest by
/// `h(a) ⊕ h(b)`, without reading any other record. A record's state bytes include its id, so no
/// two records of a set share a hash and cancel out. The digest says *whether* two sets differ,
/// not where: ``bucket(of:)`` splits a zone into 256 parts the client compares one by one.
///
/// ```swift
/// var digest = ZoneDigest()
/// for bytes in states { digest.add(ZoneDigest.hash(of: bytes)) }
/// print(digest.hex)  // 64 hex digits; 0000… for an empty zone
/// ```
public struct ZoneDigest: Hashable, Sendable, CustomStringConvertible {
    /// The 32 bytes of the digest.
    public private(set) var bytes: [UInt8]

    /// The digest of no record: 32 zero bytes.
    public init() { bytes = [UInt8](repeating: 0, count: 32) }

    /// The digest whose 32 bytes are `bytes`; `nil` for another length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// Parses 64 lower-case hex digits; `nil` for anything else.
    public init?(hex: String) {
        guard let bytes = Self.bytes(hex: hex) else { return nil }
        self.bytes = bytes
    }

    /// Adds a record hash (``hash(of:)``) to the digest, or takes it out: XOR is its own inverse.
    public mutating func add(_ hash: [UInt8]) {
        precondition(hash.count == 32, "a record hash has 32 bytes")
        for i in 0..<32 { bytes[i] ^= hash[i] }
    }

    /// Takes a record's hash out of the digest (the same as ``add(_:)``; named for the reader).
    public mutating func remove(_ hash: [UInt8]) { add(hash) }

    /// The digest of two disjoint sets together.
    public mutating func combine(_ other: ZoneDigest) { add(other.bytes) }

    public var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

    /// 64 lower-case hex digits: how the digest travels on the wire and sits in the stores.
    public var hex: String { SHA256Hasher.hexString(bytes) }
    public var description: String { hex }

    /// The SHA-256 of a record's canonical state bytes: what a digest is built from.
    public static func hash(of state: some DataProtocol) -> [UInt8] { Array(Crypto.SHA256.hash(data: state)) }

    /// The SHA-256 of a record's canonical state bytes, as hex.
    public static func hashHex(of state: some DataProtocol) -> String { SHA256Hasher.hexString(hash(of: state)) }

    /// Which of the 256 buckets a record falls in: the first byte of the SHA-256 of its id. Ids
    /// spread evenly whatever their shape (`photo:<zone>:<sha>`, `cb:<subject>`, random ids).
    public static func bucket(of id: String) -> Int { Int(Array(Crypto.SHA256.hash(data: Array(id.utf8)))[0]) }

    /// The number of buckets a zone splits into.
    public static let bucketCount = 256

    /// Bytes of 64 lower-case hex digits (a record hash or a digest), or `nil`.
    public static func bytes(hex: String) -> [UInt8]? {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(32)
        var i = 0
        while i < 64 {
            guard let high = nibble(utf8[i]), let low = nibble(utf8[i + 1]) else { return nil }
            out.append(high << 4 | low)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
