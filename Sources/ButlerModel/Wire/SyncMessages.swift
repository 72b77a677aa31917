/// The bodies of the v1 HTTP API (see `Protocol/openapi.yaml`), shared by client and server so
/// both sides encode and decode them with the same code.
public enum WireProtocol {
    /// The protocol version this build speaks; sent as the `Butler-Protocol` header on every request.
    public static let version = 1
    public static let versionHeader = "Butler-Protocol"
    /// The most deltas one push may carry.
    public static let maxPushDeltas = 1000
    /// The most changes one pull page returns.
    public static let maxPullLimit = 5000
    /// The longest a live pull (`GET /v1/pull?wait=S`) waits for a change, in seconds.
    public static let maxPullWaitSeconds = 60
}

/// `{"code": "...", "message": "..."}`: every error reply of the API.
public struct WireError: CodedError {
    public let code: ErrorCode
    public let message: String
    public var cause: (any Error & Sendable)? { nil }

    public init(code: ErrorCode, message: String) {
        self.code = code
        self.message = message
    }

    public var jsonValue: JSONValue { ["code": .string(code.rawValue), "message": .string(message)] }

    public init(json: JSONValue) throws {
        let r = try JSONObjectReader(json, path: "error")
        code = ErrorCode(try r.string("code"))
        message = try r.string("message")
    }
}

/// A batch of deltas a device pushes; the server merges them in one transaction.
public struct PushRequest: Hashable, Sendable {
    public let deltas: [RecordState]

    public init(deltas: [RecordState]) { self.deltas = deltas }

    public var jsonValue: JSONValue {
        ["protocol": .int(Int64(WireProtocol.version)), "deltas": .array(deltas.map(\.jsonValue))]
    }

    /// Decodes a push; each delta is validated on its own so that one bad delta refuses only itself.
    ///
    /// - Returns: the deltas in order, each decoded or with the error that refused it.
    public static func decode(_ json: JSONValue) throws -> [Result<RecordState, ModelError>] {
        let r = try JSONObjectReader(json, path: "push")
        let version = try r.int("protocol")
        guard version == Int64(WireProtocol.version) else {
            throw ModelError(.protocolVersion, "this server speaks protocol \(WireProtocol.version), the request is protocol \(version)")
        }
        let deltas = try r.array("deltas")
        guard deltas.count <= WireProtocol.maxPushDeltas else {
            throw ModelError(.invalidValue, "a push carries at most \(WireProtocol.maxPushDeltas) deltas, got \(deltas.count)")
        }
        return deltas.map { delta in
            do { return .success(try RecordState(json: delta)) } catch let error as ModelError { return .failure(error) } catch {
                return .failure(ModelError(.invalidJSON, "\(error)"))
            }
        }
    }
}

/// What the server did with each delta of a push, in order.
public struct PushResponse: Hashable, Sendable {
    public struct Result: Hashable, Sendable {
        public enum Status: String, Hashable, Sendable {
            /// Merged (or already held: a re-sent delta is accepted and changes nothing).
            case accepted
            /// Not stored; `code` and `message` say why. Re-sending it will not help.
            case refused
        }

        public let index: Int
        public let id: String?
        public let status: Status
        public let code: ErrorCode?
        public let message: String?

        public init(index: Int, id: String?, status: Status, code: ErrorCode? = nil, message: String? = nil) {
            self.index = index
            self.id = id
            self.status = status
            self.code = code
            self.message = message
        }

        public var jsonValue: JSONValue {
            var o: [String: JSONValue] = ["index": .int(Int64(index)), "status": .string(status.rawValue)]
            if let id { o["id"] = .string(id) }
            if let code { o["code"] = .string(code.rawValue) }
            if let message { o["message"] = .string(message) }
            return .object(o)
        }
    }

    public let results: [Result]

    public init(results: [Result]) { self.results = results }

    public var jsonValue: JSONValue { ["results": .array(results.map(\.jsonValue))] }

    public init(json: JSONValue) throws {
        let r = try JSONObjectReader(json, path: "pushResponse")
        results = try r.array("results").map { item in
            let i = try JSONObjectReader(item, path: "pushResponse.results[]")
            guard let status = Result.Status(rawValue: try i.string("status")) else {
                throw ModelError(.invalidJSON, "pushResponse.results[].status must be accepted or refused")
            }
            return Result(
                index: Int(try i.int("index")), id: try i.optionalString("id"), status: status, code: try i.optionalString("code").map(ErrorCode.init),
                message: try i.optionalString("message"))
        }
    }
}

/// One page of the change feed: full states of the records changed after the cursor.
public struct PullResponse: Hashable, Sendable {
    /// A change of the page that could not be accepted (it breaks a limit or a shape rule), set
    /// aside so that one record never makes a whole page, and every later one, unreadable.
    public struct Skipped: Hashable, Sendable {
        public let id: String
        public let code: ErrorCode
        public let message: String
    }

    public let changes: [RecordState]
    /// Pass it back to get the changes after this page; opaque to clients.
    public let cursor: String
    /// Whether more changes are waiting after this page.
    public let more: Bool
    /// Changes of the page that were set aside (not part of the wire form).
    public let skipped: [Skipped]
    /// On the page that ends a catch-up (`more` false): the digest of each of the device's zones
    /// as it stands at `cursor` (zone → 64 hex digits, `Protocol/SYNC.md` §8.3); `nil` when the
    /// server sent none (an older server, or a commit slipped in while the page was built).
    public let checksums: [String: String]?
    /// The bytes each of `changes` arrived as, when the page was read from the wire (see
    /// ``ReceivedEncodings``); none for a page built in memory.
    public let received: ReceivedEncodings

    public init(changes: [RecordState], cursor: String, more: Bool, skipped: [Skipped] = [], checksums: [String: String]? = nil, received: ReceivedEncodings = ReceivedEncodings()) {
        self.changes = changes
        self.cursor = cursor
        self.more = more
        self.skipped = skipped
        self.received = received
        self.checksums = checksums
    }

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = ["changes": .array(changes.map(\.jsonValue)), "cursor": .string(cursor), "more": .bool(more)]
        if let checksums { o["checksums"] = .object(checksums.mapValues(JSONValue.string)) }
        return .object(o)
    }

    /// The `checksums` member as sent, or `nil` when absent or malformed (then the device cannot
    /// compare this time, and says so: a checksum it cannot read is never taken as a match).
    static func checksums(_ value: JSONValue?) -> [String: String]? {
        guard case .object(let members)? = value else { return nil }
        var sums: [String: String] = [:]
        for (zone, digest) in members {
            guard let hex = digest.stringValue, Photo.isSHA256(hex) else { return nil }
            sums[zone] = hex
        }
        return sums
    }

    public init(json: JSONValue) throws {
        let r = try JSONObjectReader(json, path: "pull")
        var changes: [RecordState] = []
        var skipped: [Skipped] = []
        for element in try r.array("changes") {
            do { changes.append(try RecordState(json: element)) } catch let error as ModelError {
                skipped.append(Skipped(id: element["id"]?.stringValue ?? "?", code: error.code, message: error.message))
            }
        }
        self.init(
            changes: changes, cursor: try r.string("cursor"), more: try r.bool("more"), skipped: skipped, checksums: Self.checksums(r.members["checksums"]))
    }
}
