import ButlerFiles
import ButlerModel
import CCurl
import Foundation
import Logging
import Synchronization

/// The HTTP transport on libcurl, tuned for flaky coverage: a short connect timeout, an abort
/// when a transfer stalls below a minimum speed, and cancellation checked while bytes move.
///
/// Each request uses its own easy handle on a dispatch thread, so a blocking transfer never ties
/// up Swift's cooperative pool; cancelling the calling task aborts the transfer within a second.
public struct CurlTransport: SyncTransport {
    public struct Configuration: Sendable {
        /// The server, e.g. `http://127.0.0.1:8080`.
        public var baseURL: String
        public var token: String
        /// Give up connecting after this long (no coverage is the common case: fail fast).
        public var connectTimeout: Duration = .seconds(10)
        /// Abort a transfer slower than `lowSpeedBytesPerSecond` for `lowSpeedTime`.
        public var lowSpeedBytesPerSecond: Int = 64
        public var lowSpeedTime: Duration = .seconds(30)
        /// The whole-request limit for JSON calls (blob transfers are bounded by the low-speed rule).
        public var requestTimeout: Duration = .seconds(120)
        /// Cap on upload speed in bytes per second (`nil`: as fast as the link allows), so photo
        /// uploads do not starve everything else on a slow or metered link.
        public var maxUploadBytesPerSecond: Int? = nil
        /// gzip on the JSON calls: ask for gzipped replies (`Accept-Encoding: gzip`, inflated by
        /// libcurl) and gzip request bodies of at least ``compressAboveBytes``. An old server that
        /// refuses a gzipped body gets it again as it is, and no more gzip for this transport's life.
        public var compression = true
        /// The smallest request body worth gzipping: below it the gzip header and trailer (18 B)
        /// eat the gain.
        public var compressAboveBytes = 150

        public init(baseURL: String, token: String) {
            self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
            self.token = token
        }
    }

    public let configuration: Configuration
    let logger: Logger
    /// What this transport learned of the server's gzip, shared by its copies.
    let encoding = EncodingState()
    /// The bytes this transport moved, as the wire carried them.
    public let wire = WireTally()

    public init(configuration: Configuration, logger: Logger = Logger(label: "butler.client.transport")) {
        self.configuration = configuration
        self.logger = logger
        CurlGlobal.initialize()
    }

    // MARK: API

    public func device() async throws -> DeviceInfo {
        try DeviceInfo(json: try await json(.get, "/v1/devices/me"))
    }

    public func issueReplica() async throws -> ReplicaID {
        let reply = try await json(.post, "/v1/devices/me/replicas", body: Data("{}".utf8))
        guard let text = reply["replica"]?.stringValue, let replica = try? ReplicaID(text) else {
            throw ClientError(.badResponse, "the server issued no valid replica id")
        }
        return replica
    }

    public func reportDiscarded(_ edits: DiscardedEdits) async throws -> Int {
        try DiscardedEdits.resolvedCount(try await json(.post, "/v1/devices/me/discarded", body: Data(edits.jsonValue.canonicalBytes)))
    }

    public func push(_ request: PushRequest) async throws -> PushResponse {
        try PushResponse(json: try await json(.post, "/v1/push", body: Data(request.jsonValue.canonicalBytes)))
    }

    public func pull(cursor: String?, limit: Int) async throws -> PullResponse {
        var query = "limit=\(limit)"
        if let cursor { query += "&cursor=\(Self.escape(cursor))" }
        let response = try await perform(
            Request(method: .get, path: "/v1/pull?\(query)", timeout: configuration.requestTimeout, acceptGzip: configuration.compression))
        return try response.reply.pullPage()
    }

    public func pull(cursor: String?, limit: Int, wait: Duration) async throws -> PullResponse {
        let seconds = min(max(0, Int(wait.components.seconds)), WireProtocol.maxPullWaitSeconds)
        var query = "limit=\(limit)&wait=\(seconds)"
        if let cursor { query += "&cursor=\(Self.escape(cursor))" }
        // No byte moves while the server waits: the low-speed rule would cut the request, so the
        // whole-request limit covers the wait plus the usual allowance.
        let response = try await perform(
            Request(method: .get, path: "/v1/pull?\(query)", timeout: configuration.requestTimeout + .seconds(seconds), idle: true))
        return try response.reply.pullPage()
    }

    public func record(id: RecordID) async throws -> RecordState? {
        // A record id is `[A-Za-z0-9._:-]`: every character may stand in a path segment as it is.
        let response = try await perform(
            Request(method: .get, path: "/v1/records/\(id.rawValue)", timeout: configuration.requestTimeout, acceptGzip: configuration.compression))
        return try response.reply.record(id)
    }

    public func blobStatus(sha256: String) async throws -> BlobStatus {
        try BlobStatus(json: try await json(.get, "/v1/blobs/\(sha256)/upload"))
    }

    public func uploadBlob(
        sha256: String, file: URL, offset: Int64, count: Int64, length: Int64, sent: @escaping @Sendable (Int64) -> Void
    ) async throws -> BlobStatus {
        let response = try await perform(
            Request(
                method: .patch, path: "/v1/blobs/\(sha256)/upload?offset=\(offset)&length=\(length)",
                upload: .file(file, offset: offset, count: count), timeout: nil, onUpload: sent))
        return try BlobStatus(json: try response.reply.json())
    }

    public func downloadBlob(sha256: String, to file: URL, from offset: Int64) async throws -> Int64 {
        let response = try await perform(
            Request(method: .get, path: "/v1/blobs/\(sha256)", headers: offset > 0 ? ["Range: bytes=\(offset)-"] : [], download: file, timeout: nil))
        try response.reply.checkDownload(sha256: sha256, from: offset)
        return response.downloaded
    }

    // MARK: Plumbing

    enum Method: String, Sendable { case get = "GET", post = "POST", patch = "PATCH" }

    enum Upload: Sendable {
        case none
        case data(Data)
        case file(URL, offset: Int64, count: Int64)
    }

    struct Request: Sendable {
        var method: Method
        var path: String
        var headers: [String] = []
        var upload: Upload = .none
        var download: URL? = nil
        var timeout: Duration?
        /// The server may send nothing for a while (a live pull): no low-speed abort.
        var idle = false
        var onUpload: (@Sendable (Int64) -> Void)? = nil
        /// Ask for a gzipped reply, inflated by libcurl (JSON calls; never a blob's bytes).
        var acceptGzip = false
    }

    struct Response: Sendable {
        var status: Int
        var body: Data
        var downloaded: Int64
        /// Body bytes as the wire carried them (compressed, where they were).
        var sentBytes: Int64 = 0
        var receivedBytes: Int64 = 0

        /// The status and body, read as every transport reads them.
        var reply: ServerReply { ServerReply(status: status, body: [UInt8](body)) }
    }

    func json(_ method: Method, _ path: String, body: Data? = nil) async throws -> JSONValue {
        var request = Request(
            method: method, path: path, headers: body == nil ? [] : ["Content-Type: application/json"],
            upload: body.map(Upload.data) ?? .none, timeout: configuration.requestTimeout, acceptGzip: configuration.compression)
        guard let body, configuration.compression, body.count >= configuration.compressAboveBytes, encoding.serverTakesGzip else {
            return try await perform(request).reply.json()
        }
        var gzipped = request
        gzipped.headers.append("Content-Encoding: gzip")
        gzipped.upload = .data(Data(Gzip.compress(body)))
        let response = try await perform(gzipped)
        guard EncodingState.refusesGzip(response.reply) else { return try response.reply.json() }
        // A server older than gzip bodies: 415, or its JSON parser choking on the gzip bytes. The
        // server applied nothing; the body goes again as it is, and as it is from now on.
        encoding.serverTakesGzip = false
        logger.info("the server does not take gzip bodies; sending them as they are", metadata: ["http.status": "\(response.status)"])
        request.upload = .data(body)
        return try await perform(request).reply.json()
    }

    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }

    /// Runs one request on a dispatch thread; cancelling the task aborts the transfer.
    func perform(_ request: Request) async throws -> Response {
        let cancelled = CancellationFlag()
        let configuration = configuration
        let response = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Response, any Error>) in
                DispatchQueue.global().async {
                    continuation.resume(with: Result { try CurlRequest.run(request, configuration: configuration, cancelled: cancelled) })
                }
            }
        } onCancel: {
            cancelled.cancel()
        }
        wire.add(sent: response.sentBytes, received: response.receivedBytes)
        return response
    }
}

/// Body bytes a ``CurlTransport`` sent and received, counted as the wire carried them (gzipped
/// where they were), from libcurl's own counts; headers are not included.
public final class WireTally: Sendable {
    private let counts = Mutex<(sent: Int64, received: Int64, requests: Int)>((0, 0, 0))

    public init() {}

    /// Bytes of request bodies sent, bytes of reply bodies received, and requests made.
    public var totals: (sent: Int64, received: Int64, requests: Int) { counts.withLock { $0 } }

    func add(sent: Int64, received: Int64) {
        counts.withLock {
            $0.sent += sent
            $0.received += received
            $0.requests += 1
        }
    }
}

/// Whether the server takes gzipped request bodies: assumed until it refuses one.
final class EncodingState: Sendable {
    private let takesGzip = Atomic<Bool>(true)

    var serverTakesGzip: Bool {
        get { takesGzip.load(ordering: .relaxed) }
        set { takesGzip.store(newValue, ordering: .relaxed) }
    }

    /// A reply refusing a gzipped body: 415 from a server that knows encodings but not this one,
    /// or 400 `invalid-json` from one that read the gzip bytes as JSON.
    static func refusesGzip(_ reply: ServerReply) -> Bool {
        switch reply.status {
        case 415: true
        case 400: reply.error.code == .invalidJSON
        default: false
        }
    }
}

/// Set from any thread to abort a transfer at its next progress callback.
final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func cancel() { flag.store(true, ordering: .relaxed) }
    var isCancelled: Bool { flag.load(ordering: .relaxed) }
}

enum CurlGlobal {
    private static let once: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()
    static func initialize() { _ = once }
}
