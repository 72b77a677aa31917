/// A device's role: what it may read and write.
public enum DeviceRole: String, CaseIterable, Hashable, Sendable {
    /// 客服管家: reads and writes records of its zones.
    case butler
    /// 客服主管: reads and writes records of the zones assigned to it, and reviews.
    case supervisor
    /// 项目经理: what a supervisor may do, and approves (closes) complaints.
    case manager

    /// Whether it may review, reopen and verify: a supervisor or a project manager.
    public var supervises: Bool { self != .butler }
}

/// `GET /v1/devices/me`: who the token belongs to, and the estate settings its deadlines use.
public struct DeviceInfo: Hashable, Sendable {
    public let name: String
    public let role: DeviceRole
    public let zones: [Zone]
    /// The estate's time zone, seconds east of UTC (`"estate": {"utcOffset": "+08:00"}`); `nil`
    /// from a server that does not send it, which means the default, +08:00.
    public let estateUTCOffsetSeconds: Int?

    public init(name: String, role: DeviceRole, zones: [Zone], estateUTCOffsetSeconds: Int? = nil) {
        self.name = name
        self.role = role
        self.zones = zones
        self.estateUTCOffsetSeconds = estateUTCOffsetSeconds
    }

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = ["name": .string(name), "role": .string(role.rawValue), "zones": .array(zones.map { .string($0.rawValue) })]
        if let estateUTCOffsetSeconds { o["estate"] = ["utcOffset": .string(EstateCalendar.formatUTCOffset(estateUTCOffsetSeconds))] }
        return .object(o)
    }

    public init(json: JSONValue) throws {
        let r = try JSONObjectReader(json, path: "device")
        name = try r.string("name")
        guard let role = DeviceRole(rawValue: try r.string("role")) else {
            throw ModelError(.invalidJSON, "device.role must be butler, supervisor or manager")
        }
        self.role = role
        zones = try r.array("zones").map { zone in
            guard let z = zone.stringValue else { throw ModelError(.invalidJSON, "device.zones must hold strings") }
            return try Zone(z)
        }
        if let estate = r.members["estate"], estate != .null {
            let e = try JSONObjectReader(estate, path: "device.estate")
            do {
                estateUTCOffsetSeconds = try e.optionalString("utcOffset").map(EstateCalendar.parseUTCOffset)
            } catch let error as ModelError where error.code == .invalidValue {
                throw ModelError(.invalidJSON, "device.estate.utcOffset: \(error.message)")
            }
        } else {
            estateUTCOffsetSeconds = nil
        }
    }
}

/// `GET /v1/blobs/{sha256}/upload`: how much of a blob the server holds.
public struct BlobStatus: Hashable, Sendable {
    public let sha256: String
    /// Bytes held so far (the whole length once complete).
    public let received: Int64
    /// The announced total length, once an upload has started.
    public let length: Int64?
    /// Verified against its hash and visible.
    public let complete: Bool

    public init(sha256: String, received: Int64, length: Int64?, complete: Bool) {
        self.sha256 = sha256
        self.received = received
        self.length = length
        self.complete = complete
    }

    public var jsonValue: JSONValue {
        [
            "sha256": .string(sha256), "received": .int(received), "length": length.map(JSONValue.int) ?? .null,
            "complete": .bool(complete),
        ]
    }

    public init(json: JSONValue) throws {
        let r = try JSONObjectReader(json, path: "blob")
        sha256 = try r.string("sha256")
        guard Photo.isSHA256(sha256) else { throw ModelError(.invalidJSON, "blob.sha256 must be 64 lower-case hex digits") }
        received = try r.int("received")
        length = try r.optionalInt("length")
        complete = try r.bool("complete")
    }
}

/// `POST /v1/devices/me/discarded`: refused edits the butler discarded on the device
/// (`butler refused discard`), so the server stops listing them as pending on the console.
/// Each names the record and the dots the discarded delta wrote.
public struct DiscardedEdits: Hashable, Sendable {
    public struct Edit: Hashable, Sendable {
        public let record: RecordID
        public let dots: Set<Dot>

        public init(record: RecordID, dots: Set<Dot>) {
            self.record = record
            self.dots = dots
        }
    }

    /// The most edits one request may name (a device sends what it discarded since its last sync).
    public static let maxEdits = 1000
    /// The most dots one edit may name.
    public static let maxDots = 4096

    public let edits: [Edit]

    public init(edits: [Edit]) { self.edits = edits }

    public var jsonValue: JSONValue {
        [
            "discarded": .array(edits.map { edit in
                ["id": .string(edit.record.rawValue), "dots": .array(edit.dots.sorted().map { .string($0.description) })]
            })
        ]
    }

    /// The reply's `{"resolved": N}`.
    public static func resolvedCount(_ json: JSONValue) throws -> Int {
        let resolved = try JSONObjectReader(json, path: "reply").int("resolved")
        guard resolved >= 0 else { throw ModelError(.invalidJSON, "reply.resolved must not be negative") }
        return Int(resolved)
    }

    public init(json: JSONValue) throws {
        let r = try JSONObjectReader(json, path: "request")
        let items = try r.array("discarded")
        guard items.count <= Self.maxEdits else {
            throw ModelError(.invalidValue, "at most \(Self.maxEdits) discarded edits per request, got \(items.count)")
        }
        edits = try items.enumerated().map { index, item in
            let e = try JSONObjectReader(item, path: "discarded[\(index)]")
            let record = try RecordID(try e.string("id"))
            let dots = try e.array("dots")
            guard dots.count <= Self.maxDots else { throw ModelError(.invalidValue, "discarded[\(index)].dots holds more than \(Self.maxDots) dots") }
            return Edit(
                record: record,
                dots: Set(try dots.map { value in
                    guard let text = value.stringValue, let dot = Dot(parsing: text) else {
                        throw ModelError(.invalidJSON, "discarded[\(index)].dots must hold \"replica:counter\" strings")
                    }
                    return dot
                }))
        }
    }
}
