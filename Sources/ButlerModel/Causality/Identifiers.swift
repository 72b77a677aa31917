/// Checks that `text` is 1…`maxLength` characters from `[A-Za-z0-9._-]` plus `extra`.
///
/// Identifiers appear in field paths, URLs and file names, so they are kept to a safe alphabet;
/// anything else is refused with ``ModelError/Code/invalidValue`` naming the `kind`.
func validateIdentifier<S: StringProtocol>(_ text: S, kind: String, maxLength: Int, allowColon: Bool = false) throws {
    let bytes = text.utf8
    let count = bytes.count
    guard count > 0, count <= maxLength else {
        throw ModelError(.invalidValue, "\(kind) must be 1 to \(maxLength) characters, got \(count)")
    }
    var dots = 0
    for b in bytes {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "-"):
            continue
        case UInt8(ascii: "."):
            dots += 1
        case UInt8(ascii: ":") where allowColon:
            continue
        default:
            throw ModelError(.invalidValue, "\(kind) \"\(text)\" may only hold letters, digits, '.', '_' and '-'")
        }
    }
    if dots == count && count <= 2 { throw ModelError(.invalidValue, "\(kind) may not be \"\(text)\"") }
}

/// The stable identity of a replica: one device's store (a client) or the server.
public struct ReplicaID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Validates `rawValue`: 1–64 characters of `[A-Za-z0-9._-]`.
    public init(_ rawValue: String) throws {
        try validateIdentifier(rawValue, kind: "replica id", maxLength: 64)
        self.rawValue = rawValue
    }

    public static func < (lhs: ReplicaID, rhs: ReplicaID) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    public var description: String { rawValue }
}

/// The identity of a record; unique across all replicas (a UUID, or derived from what the record is about).
public struct RecordID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Validates `rawValue`: 1–160 characters of `[A-Za-z0-9._:-]`.
    public init(_ rawValue: String) throws {
        try validateIdentifier(rawValue, kind: "record id", maxLength: 160, allowColon: true)
        self.rawValue = rawValue
    }

    public static func < (lhs: RecordID, rhs: RecordID) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    public var description: String { rawValue }
}

/// A zone (片区): the unit of access. A butler reads and writes only records of its zones.
public struct Zone: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Validates `rawValue`: 1–64 characters of `[A-Za-z0-9._-]`.
    public init(_ rawValue: String) throws {
        try validateIdentifier(rawValue, kind: "zone", maxLength: 64)
        self.rawValue = rawValue
    }

    public static func < (lhs: Zone, rhs: Zone) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    public var description: String { rawValue }
}
