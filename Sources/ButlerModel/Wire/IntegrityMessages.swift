/// The bodies of the integrity routes (`Protocol/SYNC.md` §8.3): how a device that finds its copy
/// of a zone differs from the server's finds the differing records without a full reset.
public enum IntegrityLimits {
    /// The most ids one `POST /v1/fetch` names.
    public static let maxFetchIDs = 500
    /// The most `(id, hash)` pairs one page of a bucket's listing holds.
    public static let maxBucketPage = 1000
}

/// `GET /v1/digests?zone=Z`: the digest of each non-empty bucket of a zone (bucket = first byte of
/// the SHA-256 of the record id, two hex digits), `{"buckets": {"0a": "<64 hex>", …}, "zone": "Z"}`.
public struct BucketDigests: Hashable, Sendable {
    public let zone: Zone
    /// Bucket (0…255) → digest (64 hex digits); a bucket with no record is absent.
    public let buckets: [Int: String]

    public init(zone: Zone, buckets: [Int: String]) {
        self.zone = zone
        self.buckets = buckets
    }

    public static func bucketName(_ bucket: Int) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[(bucket >> 4) & 0xF], digits[bucket & 0xF]])
    }

    public static func bucket(named name: String) -> Int? {
        guard name.utf8.count == 2, name == name.lowercased(), let value = Int(name, radix: 16) else { return nil }
        return value
    }

    public var jsonValue: JSONValue {
        var members: [String: JSONValue] = [:]
        for (bucket, digest) in buckets { members[Self.bucketName(bucket)] = .string(digest) }
        return ["zone": .string(zone.rawValue), "buckets": .object(members)]
    }

    public init(json: JSONValue) throws {
        let r = try JSONObjectReader(json, path: "digests")
        zone = try Zone(try r.string("zone"))
        guard case .object(let members) = try r.value("buckets") else { throw ModelError(.invalidJSON, "digests.buckets must be an object") }
        var buckets: [Int: String] = [:]
        for (name, value) in members {
            guard let bucket = Self.bucket(named: name), let digest = value.stringValue, Photo.isSHA256(digest) else {
                throw ModelError(.invalidJSON, "digests.buckets must map two hex digits to 64 hex digits")
            }
            buckets[bucket] = digest
        }
        self.buckets = buckets
    }
}

/// `GET /v1/digests?zone=Z&bucket=B[&after=ID]`: the records of one bucket, by id, with the hash of
/// each one's stored state: `{"more": false, "records": [{"hash": "…", "id": "…"}]}`.
public struct BucketHashes: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public let id: String
        public let hash: String

        public init(id: String, hash: String) {
            self.id = id
            self.hash = hash
        }
    }

    public let records: [Entry]
    /// Whether more records follow (ask again with `after` = the last id).
    public let more: Bool

    public init(records: [Entry], more: Bool) {
        self.records = records
        self.more = more
    }

    public var jsonValue: JSONValue {
        ["records": .array(records.map { ["id": .string($0.id), "hash": .string($0.hash)] }), "more": .bool(more)]
    }

    public init(json: JSONValue) throws {
        let r = try JSONObjectReader(json, path: "bucket")
        records = try r.array("records").map { item in
            let e = try JSONObjectReader(item, path: "bucket.records[]")
            let hash = try e.string("hash")
            guard Photo.isSHA256(hash) else { throw ModelError(.invalidJSON, "bucket.records[].hash must be 64 hex digits") }
            return Entry(id: try e.string("id"), hash: hash)
        }
        more = try r.bool("more")
    }
}

/// `POST /v1/fetch`: the server's stored states of named records of one zone,
/// `{"ids": ["…"], "zone": "Z"}` → `{"records": [<state>, …]}` (a record the server does not hold
/// in that zone is left out).
public struct FetchRequest: Hashable, Sendable {
    public let zone: Zone
    public let ids: [RecordID]

    public init(zone: Zone, ids: [RecordID]) {
        self.zone = zone
        self.ids = ids
    }

    public var jsonValue: JSONValue { ["zone": .string(zone.rawValue), "ids": .array(ids.map { .string($0.rawValue) })] }

    public init(json: JSONValue) throws {
        let r = try JSONObjectReader(json, path: "fetch")
        zone = try Zone(try r.string("zone"))
        let ids = try r.array("ids")
        guard ids.count <= IntegrityLimits.maxFetchIDs else {
            throw ModelError(.invalidValue, "a fetch names at most \(IntegrityLimits.maxFetchIDs) records, got \(ids.count)")
        }
        self.ids = try ids.map { id in
            guard let text = id.stringValue else { throw ModelError(.invalidJSON, "fetch.ids must hold strings") }
            return try RecordID(text)
        }
    }
}

/// `GET /v1/time`: the server's clock and the protocol versions it speaks, `{"now": <ms since
/// 1970>, "protocols": [1]}`, for a device measuring its clock offset (`butler doctor`).
public struct ServerTime: Hashable, Sendable {
    public let millis: Int64
    public let protocols: [Int]

    public init(millis: Int64, protocols: [Int]) {
        self.millis = millis
        self.protocols = protocols
    }

    public var jsonValue: JSONValue { ["now": .int(millis), "protocols": .array(protocols.map { .int(Int64($0)) })] }

    public init(json: JSONValue) throws {
        let r = try JSONObjectReader(json, path: "time")
        millis = try r.int("now")
        protocols = try r.array("protocols").compactMap { $0.intValue.map(Int.init) }
    }
}
