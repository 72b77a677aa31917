/// A JSON document restricted to what ButlerSync puts on the wire: no floating-point numbers.
///
/// Every number in the protocol is an integer (counters, milliseconds, byte counts), which keeps
/// the canonical encoding exact and identical in every language. Objects keep their keys in a
/// dictionary; the canonical encoder sorts them by their UTF-8 bytes.
public enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var intValue: Int64? { if case .int(let i) = self { i } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }
    public var isNull: Bool { self == .null }

    /// The member `key` of an object, or `nil` for a missing key or a non-object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { o[key] } else { nil }
    }
}

/// Typed access to the members of a JSON object, throwing ``ModelError/Code/invalidJSON`` with the
/// path of the offending member, so a bad request names what is wrong with it.
public struct JSONObjectReader: Sendable {
    public let members: [String: JSONValue]
    public let path: String

    public init(_ value: JSONValue, path: String = "$") throws {
        guard case .object(let members) = value else {
            throw ModelError(.invalidJSON, "\(path) must be an object")
        }
        self.members = members
        self.path = path
    }

    public func value(_ key: String) throws -> JSONValue {
        guard let v = members[key] else { throw ModelError(.invalidJSON, "\(path).\(key) is missing") }
        return v
    }

    public func string(_ key: String) throws -> String {
        guard let s = try value(key).stringValue else { throw ModelError(.invalidJSON, "\(path).\(key) must be a string") }
        return s
    }

    public func optionalString(_ key: String) throws -> String? {
        guard let v = members[key], v != .null else { return nil }
        guard let s = v.stringValue else { throw ModelError(.invalidJSON, "\(path).\(key) must be a string") }
        return s
    }

    public func int(_ key: String) throws -> Int64 {
        guard let i = try value(key).intValue else { throw ModelError(.invalidJSON, "\(path).\(key) must be an integer") }
        return i
    }

    public func optionalInt(_ key: String) throws -> Int64? {
        guard let v = members[key], v != .null else { return nil }
        guard let i = v.intValue else { throw ModelError(.invalidJSON, "\(path).\(key) must be an integer") }
        return i
    }

    public func bool(_ key: String) throws -> Bool {
        guard let b = try value(key).boolValue else { throw ModelError(.invalidJSON, "\(path).\(key) must be a boolean") }
        return b
    }

    public func optionalBool(_ key: String) throws -> Bool? {
        guard let v = members[key], v != .null else { return nil }
        guard let b = v.boolValue else { throw ModelError(.invalidJSON, "\(path).\(key) must be a boolean") }
        return b
    }

    public func array(_ key: String) throws -> [JSONValue] {
        guard let a = try value(key).arrayValue else { throw ModelError(.invalidJSON, "\(path).\(key) must be an array") }
        return a
    }

    public func object(_ key: String) throws -> JSONObjectReader {
        try JSONObjectReader(try value(key), path: "\(path).\(key)")
    }

    public func optionalObject(_ key: String) throws -> JSONObjectReader? {
        guard let v = members[key], v != .null else { return nil }
        return try JSONObjectReader(v, path: "\(path).\(key)")
    }
}
