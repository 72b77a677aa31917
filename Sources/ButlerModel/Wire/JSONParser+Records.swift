/// Decoding record states and pull pages straight from bytes.
///
/// The generic path (bytes → ``JSONValue`` tree → ``RecordState``) builds a dictionary for every
/// object on the way; a pull page holds thousands of them. This path reads the fixed shape of a
/// record directly and builds only the small generic values (contexts, dots, field values). It
/// enforces exactly the same rules: the same strict JSON, the same member set, the same
/// validation in ``RecordState/init(id:type:zone:context:fields:)``. The conformance tests decode
/// every vector both ways and compare.
extension JSONParser {
    /// Decodes one record state (or delta) from its JSON bytes.
    public static func parseRecordState(_ bytes: [UInt8], limits: Limits = Limits()) throws -> RecordState {
        var parser = JSONParser(bytes: bytes, limits: limits)
        parser.skipWhitespace()
        let state = try parser.recordState()
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.error("unexpected data after the JSON value") }
        return state
    }

    /// Decodes a pull page.
    public static func parsePullResponse(_ bytes: [UInt8], limits: Limits = Limits()) throws -> PullResponse {
        var parser = JSONParser(bytes: bytes, limits: limits)
        parser.skipWhitespace()
        var changes: [RecordState]?
        var cursor: String?
        var more: Bool?
        var skipped: [PullResponse.Skipped] = []
        var received: [ArraySlice<UInt8>] = []
        var checksums: [String: String]?
        try parser.object { parser, key in
            switch key {
            case "changes":
                var list: [RecordState] = []
                try parser.array { parser in
                    // One record this build cannot accept (over a limit, an unknown shape) is set
                    // aside, never the page: the element is skipped as plain JSON. Broken JSON still
                    // fails the page, since nothing after it can be trusted.
                    parser.skipWhitespace()
                    let start = parser.index
                    do {
                        list.append(try parser.recordState())
                        received.append(parser.bytes[start..<parser.index])
                    } catch let error as ModelError {
                        parser.index = start
                        let element = try parser.parseValue(depth: 1)
                        let id = element["id"]?.stringValue ?? "?"
                        skipped.append(PullResponse.Skipped(id: id, code: error.code, message: error.message))
                    }
                }
                changes = list
            case "cursor":
                guard case .string(let s) = try parser.parseValue(depth: 1) else { throw ModelError(.invalidJSON, "pull.cursor must be a string") }
                cursor = s
            case "more":
                guard case .bool(let b) = try parser.parseValue(depth: 1) else { throw ModelError(.invalidJSON, "pull.more must be a boolean") }
                more = b
            case "checksums":
                checksums = PullResponse.checksums(try parser.parseValue(depth: 1))
            default:
                _ = try parser.parseValue(depth: 1)
            }
        }
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.error("unexpected data after the JSON value") }
        guard let changes, let cursor, let more else { throw ModelError(.invalidJSON, "pull needs changes, cursor and more") }
        return PullResponse(changes: changes, cursor: cursor, more: more, skipped: skipped, checksums: checksums, received: ReceivedEncodings(received))
    }

    mutating func recordState() throws -> RecordState {
        var id: String?
        var typeName: String?
        var zone: String?
        var context: CausalContext?
        var fields: [FieldPath: [Dot: FieldEntry]]?
        try object { parser, key in
            switch key {
            case "id": id = try parser.stringMember("record.id")
            case "type": typeName = try parser.stringMember("record.type")
            case "zone": zone = try parser.stringMember("record.zone")
            case "context": context = try CausalContext(json: try parser.parseValue(depth: 2))
            case "fields": fields = try parser.fields()
            default: throw ModelError(.invalidJSON, "record has unknown member \"\(key)\"")
            }
        }
        guard let id else { throw ModelError(.invalidJSON, "record.id is missing") }
        guard let typeName else { throw ModelError(.invalidJSON, "record.type is missing") }
        guard let zone else { throw ModelError(.invalidJSON, "record.zone is missing") }
        guard let context else { throw ModelError(.invalidJSON, "record.context is missing") }
        guard let fields else { throw ModelError(.invalidJSON, "record.fields is missing") }
        guard let type = RecordType(rawValue: typeName) else { throw ModelError(.invalidValue, "unknown record type \"\(typeName)\"") }
        return try RecordState(id: RecordID(id), type: type, zone: Zone(zone), context: context, fields: fields)
    }

    mutating func fields() throws -> [FieldPath: [Dot: FieldEntry]] {
        var fields: [FieldPath: [Dot: FieldEntry]] = [:]
        var count = 0
        try object { parser, pathText in
            count += 1
            guard count <= RecordLimits.maxFields else {
                throw ModelError(.invalidValue, "a record may hold at most \(RecordLimits.maxFields) fields")
            }
            let path = try FieldPath(pathText)
            var register: [Dot: FieldEntry] = [:]
            var entries = 0
            try parser.array { parser in
                entries += 1
                guard entries <= RecordLimits.maxSiblings else {
                    throw ModelError(.invalidValue, "field \(pathText) may hold at most \(RecordLimits.maxSiblings) values")
                }
                let (dot, entry) = try parser.entry(pathText)
                guard register.updateValue(entry, forKey: dot) == nil else {
                    throw ModelError(.invalidValue, "dot \(dot) appears twice in field \(pathText)")
                }
            }
            fields[path] = register
        }
        return fields
    }

    mutating func entry(_ pathText: String) throws -> (Dot, FieldEntry) {
        var dot: Dot?
        var time: HLCTimestamp?
        var author: String?
        var value: JSONValue?
        try object { parser, key in
            switch key {
            case "dot": dot = try Dot(json: try parser.parseValue(depth: 4))
            case "time": time = try HLCTimestamp(json: try parser.parseValue(depth: 4))
            case "by": author = try parser.stringMember("fields.\(pathText)[].by")
            case "value": value = try parser.parseValue(depth: 4)
            default: _ = try parser.parseValue(depth: 4)
            }
        }
        guard let dot else { throw ModelError(.invalidJSON, "fields.\(pathText)[].dot is missing") }
        guard let time else { throw ModelError(.invalidJSON, "fields.\(pathText)[].time is missing") }
        guard let author else { throw ModelError(.invalidJSON, "fields.\(pathText)[].by is missing") }
        guard let value else { throw ModelError(.invalidJSON, "fields.\(pathText)[].value is missing") }
        try FieldEntry.validateAuthorName(author)
        return (dot, FieldEntry(value: value, time: time, author: author))
    }

    mutating func stringMember(_ name: String) throws -> String {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw ModelError(.invalidJSON, "\(name) must be a string") }
        return try parseString()
    }

    /// Reads an object, calling `member` with the parser positioned at each value; refuses
    /// repeated keys like the generic parser does.
    mutating func object(_ member: (inout JSONParser, String) throws -> Void) throws {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { throw error("expected an object") }
        index += 1
        // Repeated keys are found in a short list while the object is small (a record's entries
        // have four members), in a set once it grows (a record may hold 10,000 fields).
        var few: [String] = []
        var seen = Set<String>()
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try parseString()
            if few.count < 16 {
                guard !few.contains(key) else { throw error("duplicate key \"\(key)\"") }
                few.append(key)
                if few.count == 16 { seen = Set(few) }
            } else {
                guard seen.insert(key).inserted else { throw error("duplicate key \"\(key)\"") }
            }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected : after key") }
            index += 1
            skipWhitespace()
            try member(&self, key)
            skipWhitespace()
            guard index < bytes.count else { throw error("unterminated object") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return }
            throw error("expected , or } in object")
        }
    }

    /// Reads an array, calling `element` with the parser positioned at each element.
    mutating func array(_ element: (inout JSONParser) throws -> Void) throws {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "[") else { throw error("expected an array") }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            try element(&self)
            skipWhitespace()
            guard index < bytes.count else { throw error("unterminated array") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return }
            throw error("expected , or ] in array")
        }
    }
}
