import ButlerClient
import ButlerFiles
import ButlerModel
import ButlerServer
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOEmbedded

/// A ``SyncTransport`` that hands each call to an ``InProcessServer``'s router as an HTTP
/// `Request` in memory: no socket, no process, yet the same paths, headers, bearer token,
/// middleware, JSON bodies and `{code, message}` error replies as ``CurlTransport`` — and the
/// replies are read by the same ``ServerReply``, so a test sees exactly the errors a handheld sees.
///
/// Blob uploads stream the file's bytes (`offset..<offset+count`) in 64 KiB pieces and report
/// them through `sent`; cancelling the calling task stops the stream where it is, as a cut
/// connection does, and the server keeps what arrived. Downloads append to the file.
public struct InProcessTransport: SyncTransport {
    public let server: InProcessServer
    public let token: String

    public init(server: InProcessServer, token: String) {
        self.server = server
        self.token = token
    }

    // MARK: SyncTransport

    public func device() async throws -> DeviceInfo {
        try DeviceInfo(json: try await send(.get, "/v1/devices/me").json())
    }

    public func issueReplica() async throws -> ReplicaID {
        let reply = try await send(.post, "/v1/devices/me/replicas", json: Array("{}".utf8)).json()
        guard let text = reply["replica"]?.stringValue, let replica = try? ReplicaID(text) else {
            throw ClientError(.badResponse, "the server issued no valid replica id")
        }
        return replica
    }

    public func reportDiscarded(_ edits: DiscardedEdits) async throws -> Int {
        try DiscardedEdits.resolvedCount(try await send(.post, "/v1/devices/me/discarded", json: edits.jsonValue.canonicalBytes).json())
    }

    public func push(_ request: PushRequest) async throws -> PushResponse {
        try PushResponse(json: try await send(.post, "/v1/push", json: request.jsonValue.canonicalBytes).json())
    }

    public func pull(cursor: String?, limit: Int) async throws -> PullResponse {
        try await pull(cursor: cursor, limit: limit, wait: .zero)
    }

    public func pull(cursor: String?, limit: Int, wait: Duration) async throws -> PullResponse {
        var query = "limit=\(limit)"
        if wait > .zero { query += "&wait=\(wait.components.seconds)" }
        if let cursor {
            query += "&cursor=\(cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? cursor)"
        }
        return try await send(.get, "/v1/pull?\(query)").pullPage()
    }

    public func record(id: RecordID) async throws -> RecordState? {
        try await send(.get, "/v1/records/\(id.rawValue)").record(id)
    }

    public func blobStatus(sha256: String) async throws -> BlobStatus {
        try BlobStatus(json: try await send(.get, "/v1/blobs/\(sha256)/upload").json())
    }

    public func uploadBlob(
        sha256: String, file: URL, offset: Int64, count: Int64, length: Int64, sent: @escaping @Sendable (Int64) -> Void
    ) async throws -> BlobStatus {
        // Fail as CurlTransport does when the file cannot be read, before anything is sent.
        do { try await BlockingIO.run { try OpenFile.reading(file).close() } } catch {
            throw ClientError(.file, "cannot read \(file.path) to upload: \(error)")
        }
        let body = RequestBody(asyncSequence: FileChunks(file: file, offset: offset, count: count, sent: sent))
        var headers = HTTPFields()
        headers[.contentLength] = String(count)
        return try BlobStatus(json: try await send(.patch, "/v1/blobs/\(sha256)/upload?offset=\(offset)&length=\(length)", headers: headers, body: body).json())
    }

    public func downloadBlob(sha256: String, to file: URL, from offset: Int64) async throws -> Int64 {
        var headers = HTTPFields()
        if offset > 0 { headers[.range] = "bytes=\(offset)-" }
        let sink = ReplySink()
        let reply = try await send(.get, "/v1/blobs/\(sha256)", headers: headers, into: file, sink: sink)
        try reply.checkDownload(sha256: sha256, from: offset)
        return sink.written
    }

    // MARK: Plumbing

    func send(_ method: HTTPRequest.Method, _ path: String, json: [UInt8]) async throws -> ServerReply {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.contentLength] = String(json.count)
        return try await send(method, path, headers: headers, body: RequestBody(buffer: ByteBuffer(bytes: json)))
    }

    /// Sends one request through the router and reads the whole reply; a 2xx body goes to `file`
    /// when one is given (appended), any other body is kept for the error.
    func send(
        _ method: HTTPRequest.Method, _ path: String, headers extra: HTTPFields = [:], body: RequestBody = RequestBody(buffer: ByteBuffer()),
        into file: URL? = nil, sink: ReplySink = ReplySink()
    ) async throws -> ServerReply {
        guard server.isReachable else { throw ClientError(.unreachable, "cannot reach \(server.url): the in-process server is cut off") }
        var headers = extra
        headers[.authorization] = "Bearer \(token)"
        headers[HTTPField.Name(WireProtocol.versionHeader)!] = String(WireProtocol.version)
        headers[.accept] = "application/json"
        let request = Request(
            head: HTTPRequest(method: method, scheme: "http", authority: "\(server.name).in-process.invalid", path: path, headerFields: headers),
            body: body)
        let context = ButlerRequestContext(source: .init(channel: NIOAsyncTestingChannel(), logger: server.logger))
        let response: Response
        do {
            response = try await server.responder.respond(to: request, context: context)
        } catch let error as any HTTPResponseError {
            // What Hummingbird's HTTP server does with an error no middleware turned into a reply.
            response = try error.response(from: request, context: context)
        } catch {
            response = Response(status: .internalServerError)
        }
        // A cancelled call ends like an aborted transfer: whatever the server answered is dropped.
        try Task.checkCancellation()
        let status = Int(response.status.code)
        if let file, (200..<300).contains(status) {
            do {
                sink.file = try await BlockingIO.run { (try OpenFile.writing(file, create: true), DurableFile.size(file) ?? 0) }
            } catch let error as FileError { throw ClientError(error) }
        }
        do {
            try await response.body.write(ReplyWriter(sink: sink))
            // The download is as durable as the in-process node's files (one machine, one setting).
            if let (handle, _) = sink.file, server.configuration.durability.syncsFiles { try await BlockingIO.run { try handle.sync() } }
        } catch let error as CancellationError {
            sink.close()
            throw error
        } catch {
            sink.close()
            throw ClientError(.file, "cannot take the reply to \(path)\(file.map { " into \($0.path)" } ?? ""): \(error)")
        }
        sink.close()
        return ServerReply(status: status, body: sink.bytes)
    }
}

/// Where a reply's body goes: into memory, or appended to a file (written through ``BlockingIO``,
/// off the cooperative pool). Used by one request, in one task.
final class ReplySink {
    var bytes: [UInt8] = []
    /// The open file and where the next bytes go.
    var file: (OpenFile, Int64)?
    var written: Int64 = 0

    func take(_ buffer: ByteBuffer) async throws {
        if let (handle, at) = file {
            let chunk = Array(buffer.readableBytesView)
            try await BlockingIO.run { try handle.write(chunk, at: at) }
            file = (handle, at + Int64(chunk.count))
            written += Int64(chunk.count)
        } else {
            bytes.append(contentsOf: buffer.readableBytesView)
        }
    }

    func close() {
        file?.0.close()
        file = nil
    }
}

/// Hummingbird's end of a ``ReplySink``.
struct ReplyWriter: ResponseBodyWriter {
    let sink: ReplySink
    mutating func write(_ buffer: ByteBuffer) async throws { try await sink.take(buffer) }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

/// Bytes `offset..<offset+count` of a file as a request body, 64 KiB at a time, checking for
/// cancellation before each piece.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let file: URL
    let offset: Int64
    let count: Int64
    let sent: @Sendable (Int64) -> Void

    func makeAsyncIterator() -> Iterator { Iterator(chunks: self, remaining: count) }

    struct Iterator: AsyncIteratorProtocol {
        let chunks: FileChunks
        var remaining: Int64
        var total: Int64 = 0
        var handle: Handle?

        /// Closes the file when the body is dropped, finished or not (a cancelled upload).
        final class Handle: Sendable {
            let file: OpenFile
            init(_ file: OpenFile) { self.file = file }
            deinit { file.close() }
        }

        mutating func next() async throws -> ByteBuffer? {
            try Task.checkCancellation()
            guard remaining > 0 else {
                handle = nil
                return nil
            }
            if handle == nil {
                let url = chunks.file
                handle = Handle(try await BlockingIO.run { try OpenFile.reading(url) })
            }
            let file = handle!.file
            let at = chunks.offset + total
            let want = Int(Swift.min(remaining, 64 << 10))
            let data = try await BlockingIO.run { try file.read(want, at: at) }
            guard !data.isEmpty else {
                throw ClientError(.file, "\(chunks.file.path) ended \(remaining) bytes early")
            }
            remaining -= Int64(data.count)
            total += Int64(data.count)
            chunks.sent(total)
            // Let other tasks (a status check, a cancellation) in between pieces, as a socket would.
            await Task.yield()
            return ByteBuffer(bytes: data)
        }
    }
}
