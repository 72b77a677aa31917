/// The address of one field in a record: segments joined by `/`, e.g. `items/water-meter/result`.
///
/// A record is a flat map from field paths to multi-value registers. Nested things (a checklist
/// item's notes, a form's rectification notices, a callback's attempts) are paths that share a
/// prefix, and sets are paths whose last segment is the element (`items/tiles/photos/<sha256>`).
public struct FieldPath: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public static let maxLength = 256
    public static let maxSegments = 8

    public let rawValue: String

    public init(_ rawValue: String) throws {
        guard !rawValue.isEmpty, rawValue.utf8.count <= FieldPath.maxLength else {
            throw ModelError(.invalidField, "field path must be 1 to \(FieldPath.maxLength) bytes")
        }
        let segments = rawValue.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count <= FieldPath.maxSegments else {
            throw ModelError(.invalidField, "field path \"\(rawValue)\" has more than \(FieldPath.maxSegments) segments")
        }
        for segment in segments {
            do {
                try validateIdentifier(segment, kind: "field path segment", maxLength: 128, allowColon: true)
            } catch let error as ModelError {
                throw ModelError(.invalidField, "field path \"\(rawValue)\": \(error.message)")
            }
        }
        self.rawValue = rawValue
    }

    /// Builds a path from segments, validating each.
    public init(_ segments: String...) throws {
        try self.init(segments.joined(separator: "/"))
    }

    /// A path from a literal in code; literals are checked by the tests, so a bad one is a programming error.
    public init(stringLiteral value: String) {
        do { try self.init(value) } catch { preconditionFailure("invalid field path literal \(value): \(error)") }
    }

    public var segments: [Substring] { rawValue.split(separator: "/", omittingEmptySubsequences: false) }

    /// Whether this path is `prefix` or lies below it.
    public func hasPrefix(_ prefix: FieldPath) -> Bool {
        rawValue == prefix.rawValue || rawValue.hasPrefix(prefix.rawValue + "/")
    }

    /// `self/segment`.
    public func appending(_ segment: String) throws -> FieldPath {
        try FieldPath(rawValue + "/" + segment)
    }

    public static func < (lhs: FieldPath, rhs: FieldPath) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    public var description: String { rawValue }
}
