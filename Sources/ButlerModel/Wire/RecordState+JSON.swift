/// The wire form of causality and record states; ``RecordState/canonicalJSON`` is also the form
/// that content hashes are taken over. See `Protocol/SYNC.md` §"Encoding".
extension Dot {
    /// `["replica", counter]`
    public var jsonValue: JSONValue { .array([.string(replica.rawValue), .int(Int64(counter))]) }

    public init(json: JSONValue) throws {
        guard let parts = json.arrayValue, parts.count == 2, let r = parts[0].stringValue, let c = parts[1].intValue, c >= 1 else {
            throw ModelError(.invalidJSON, "a dot must be [\"replica\", counter ≥ 1]")
        }
        try self.init(ReplicaID(r), UInt64(c))
    }
}

extension HLCTimestamp {
    /// `[millis, logical]`
    public var jsonValue: JSONValue { .array([.int(millis), .int(Int64(logical))]) }

    public init(json: JSONValue) throws {
        guard let parts = json.arrayValue, parts.count == 2, let m = parts[0].intValue, let l = parts[1].intValue,
            m >= 0, l >= 0, l <= Int64(UInt32.max)
        else { throw ModelError(.invalidJSON, "a hybrid logical time must be [millis ≥ 0, logical 0…2³²−1]") }
        self.init(millis: m, logical: UInt32(l))
    }
}

extension VersionVector {
    /// `{"replica": counter, …}`
    public var jsonValue: JSONValue {
        .object(Dictionary(uniqueKeysWithValues: counters.map { ($0.key.rawValue, JSONValue.int(Int64($0.value))) }))
    }

    public init(json: JSONValue) throws {
        guard let members = json.objectValue else { throw ModelError(.invalidJSON, "a version vector must be an object") }
        var counters: [ReplicaID: UInt64] = [:]
        for (key, value) in members {
            guard let c = value.intValue, c >= 1, UInt64(c) <= Dot.maxCounter else {
                throw ModelError(.invalidJSON, "version vector counter of \(key) must be 1…\(Dot.maxCounter)")
            }
            counters[try ReplicaID(key)] = UInt64(c)
        }
        self.init(counters)
    }
}

/// Bounds on what one decoded record may hold, so hostile input cannot make a state absurdly large.
public enum RecordLimits {
    /// Replicas named in one causal context (a record is touched by a handful of devices).
    public static let maxReplicas = 1024
    /// Dots seen beyond the version vector.
    public static let maxCloudDots = 4096
    /// Fields in one record.
    public static let maxFields = 10_000
    /// Values in one multi-value register.
    public static let maxSiblings = 256
    /// Bytes of one stored state's canonical JSON: the server refuses a merge past it, so a pull
    /// page of records stays a size a handheld can take (photos are blobs, not in records).
    public static let maxStateBytes = 2 << 20
}

extension CausalContext {
    /// `{"vv": {"A": 3}, "cloud": {"B": [5, 7]}}`; each member is left out when empty.
    public var jsonValue: JSONValue {
        var members: [String: JSONValue] = [:]
        if !vector.isEmpty { members["vv"] = vector.jsonValue }
        if !cloud.isEmpty {
            var byReplica: [String: [UInt64]] = [:]
            for dot in cloud { byReplica[dot.replica.rawValue, default: []].append(dot.counter) }
            members["cloud"] = .object(byReplica.mapValues { .array($0.sorted().map { .int(Int64($0)) }) })
        }
        return .object(members)
    }

    public init(json: JSONValue) throws {
        let reader = try JSONObjectReader(json, path: "context")
        for key in reader.members.keys where key != "vv" && key != "cloud" {
            throw ModelError(.invalidJSON, "context has unknown member \"\(key)\"")
        }
        let vector = try reader.members["vv"].map(VersionVector.init(json:)) ?? VersionVector()
        if vector.counters.count > RecordLimits.maxReplicas {
            throw ModelError(.invalidValue, "a causal context may name at most \(RecordLimits.maxReplicas) replicas")
        }
        var cloud = Set<Dot>()
        if let c = reader.members["cloud"] {
            guard let byReplica = c.objectValue else { throw ModelError(.invalidJSON, "context.cloud must be an object") }
            for (replica, counters) in byReplica {
                let r = try ReplicaID(replica)
                guard let list = counters.arrayValue else { throw ModelError(.invalidJSON, "context.cloud.\(replica) must be an array") }
                for counter in list {
                    guard let n = counter.intValue, n >= 1 else { throw ModelError(.invalidJSON, "context.cloud counters must be ≥ 1") }
                    cloud.insert(try Dot(r, UInt64(n)))
                }
                guard cloud.count <= RecordLimits.maxCloudDots else {
                    throw ModelError(.invalidValue, "a causal context may hold at most \(RecordLimits.maxCloudDots) dots beyond its vector")
                }
            }
        }
        self.init(vector: vector, cloud: cloud)
    }
}

extension RecordState {
    /// The state as JSON: `id`, `type`, `zone`, `context`, and `fields`, each field an array of
    /// `{"dot", "time", "by", "value"}` sorted by dot.
    public var jsonValue: JSONValue {
        var fieldMembers: [String: JSONValue] = [:]
        for (path, register) in fields {
            fieldMembers[path.rawValue] = .array(register.sorted { $0.key < $1.key }.map { RecordState.entryJSON($0.value, dot: $0.key) })
        }
        return .object([
            "id": .string(id.rawValue),
            "type": .string(type.rawValue),
            "zone": .string(zone.rawValue),
            "context": context.jsonValue,
            "fields": .object(fieldMembers),
        ])
    }

    static func entryJSON(_ entry: FieldEntry, dot: Dot?) -> JSONValue {
        var members: [String: JSONValue] = ["time": entry.time.jsonValue, "by": .string(entry.author), "value": entry.value]
        if let dot { members["dot"] = dot.jsonValue }
        return .object(members)
    }

    /// Decodes and validates a state or delta from its JSON form.
    public init(json: JSONValue) throws {
        let reader = try JSONObjectReader(json, path: "record")
        for key in reader.members.keys where !["id", "type", "zone", "context", "fields"].contains(key) {
            throw ModelError(.invalidJSON, "record has unknown member \"\(key)\"")
        }
        let typeName = try reader.string("type")
        guard let type = RecordType(rawValue: typeName) else {
            throw ModelError(.invalidValue, "unknown record type \"\(typeName)\"")
        }
        let context = try CausalContext(json: try reader.value("context"))
        let fieldsReader = try reader.object("fields")
        guard fieldsReader.members.count <= RecordLimits.maxFields else {
            throw ModelError(.invalidValue, "a record may hold at most \(RecordLimits.maxFields) fields")
        }
        var fields: [FieldPath: [Dot: FieldEntry]] = [:]
        for (pathText, entries) in fieldsReader.members {
            let path = try FieldPath(pathText)
            guard let list = entries.arrayValue else { throw ModelError(.invalidJSON, "fields.\(pathText) must be an array") }
            guard list.count <= RecordLimits.maxSiblings else {
                throw ModelError(.invalidValue, "field \(pathText) may hold at most \(RecordLimits.maxSiblings) values")
            }
            var register: [Dot: FieldEntry] = [:]
            for item in list {
                let e = try JSONObjectReader(item, path: "fields.\(pathText)[]")
                let dot = try Dot(json: try e.value("dot"))
                let author = try e.string("by")
                try FieldEntry.validateAuthorName(author)
                let entry = FieldEntry(value: try e.value("value"), time: try HLCTimestamp(json: try e.value("time")), author: author)
                guard register.updateValue(entry, forKey: dot) == nil else {
                    throw ModelError(.invalidValue, "dot \(dot) appears twice in field \(pathText)")
                }
            }
            fields[path] = register
        }
        try self.init(
            id: try RecordID(try reader.string("id")), type: type, zone: try Zone(try reader.string("zone")),
            context: context, fields: fields)
    }

    /// The canonical encoding of the state: equal states have equal bytes on every replica.
    public var canonicalJSON: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        writeCanonical(into: &out)
        return out
    }

    /// SHA-256 of ``canonicalJSON``, lower-case hex: two replicas hold the same state exactly when
    /// their content hashes are equal.
    public var contentHash: String { SHA256Hasher.hex(of: canonicalJSON) }
}
