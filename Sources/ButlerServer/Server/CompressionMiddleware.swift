import ButlerFiles
import ButlerModel
import Foundation
import Hummingbird
import Metrics
import NIOCore

/// gzip on the wire for the JSON routes (push, pull, views, records), negotiated with the standard
/// headers so a client that asks for nothing gets exactly what it got before.
///
/// - A request body with `Content-Encoding: gzip` is inflated as the route reads it, in bounded
///   pieces, never past ``maxInflatedBytes``: a body inflating beyond it (a "gzip bomb") is refused
///   with 413 `body-too-large` while inflating, before the bytes exist; a stream that is not gzip is
///   400 `invalid-encoding`. Any other coding is 415 `unsupported-encoding`, with
///   `Accept-Encoding: gzip` saying what the route takes.
/// - A response is gzipped when the request's `Accept-Encoding` allows gzip and the body is at least
///   ``minimumResponseBytes`` (below that the gzip header and trailer eat the gain); its
///   `Content-Length` is the compressed length and `Vary: Accept-Encoding` tells caches it varies.
///
/// Photo blobs (`/v1/blobs/…`) are exempt both ways: JPEGs are compressed already, an upload's bytes
/// must hash to its name, and a ranged download must be byte-exact. An encoded body there is 415.
struct CompressionMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The most bytes a request body may inflate to: the server's push limit, the largest body any
    /// JSON route takes.
    let maxInflatedBytes: Int
    /// Responses shorter than this go as they are.
    static var minimumResponseBytes: Int { 150 }
    /// Pages above this size are compressed at zlib's fastest level: catch-up is bound by the
    /// server's time per page, and level 1 keeps most of the gain on JSON.
    static var fastLevelAboveBytes: Int { 64 << 10 }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let exempt = Self.isExempt(request.uri.path)
        var request = request
        switch Self.coding(of: request) {
        case .identity:
            break
        case .gzip where !exempt:
            Counter(label: "butler_server_gzip_total", dimensions: [("direction", "request")]).increment()
            request.body = RequestBody(asyncSequence: InflatingBody(compressed: request.body, limit: maxInflatedBytes))
        case .gzip, .other:
            context.logger.info("request encoding refused", metadata: ["http.content_encoding": "\(request.headers[.contentEncoding] ?? "")"])
            var response = try APIError(
                .unsupportedMediaType, .unsupportedEncoding,
                exempt
                    ? "photo bodies are sent as they are, without a Content-Encoding"
                    : "this server takes request bodies as they are or with Content-Encoding: gzip"
            ).response(from: request, context: context)
            response.headers[.acceptEncoding] = exempt ? "identity" : "gzip"
            return response
        }

        var response = try await next(request, context)
        guard !exempt, Self.isCompressible(response) else { return response }
        response.headers[values: .vary].append("Accept-Encoding")
        guard let accept = request.headers[.acceptEncoding], Gzip.accepted(by: accept),
            let length = response.body.contentLength, length >= Self.minimumResponseBytes
        else { return response }
        let sink = BodySink()
        try await response.body.write(CollectingWriter(sink: sink))
        let level: Int32 = length > Self.fastLevelAboveBytes ? 1 : Gzip.defaultLevel
        let compressed = Gzip.compress(sink.buffer.readableBytesView, level: level)
        Counter(label: "butler_server_gzip_total", dimensions: [("direction", "response")]).increment()
        Counter(label: "butler_server_gzip_saved_bytes_total").increment(by: max(0, length - compressed.count))
        response.headers[.contentEncoding] = "gzip"
        response.headers[.contentLength] = String(compressed.count)
        response.body = ResponseBody(byteBuffer: ByteBuffer(bytes: compressed))
        return response
    }

    enum Coding { case identity, gzip, other }

    /// The request body's coding: none (or `identity`), exactly one `gzip`, or anything else.
    static func coding(of request: Request) -> Coding {
        let codings = request.headers[values: .contentEncoding]
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty && $0 != "identity" }
        switch codings {
        case []: return .identity
        case ["gzip"], ["x-gzip"]: return .gzip
        default: return .other
        }
    }

    /// Photo blobs: uploads, downloads and upload status stay as they are.
    static func isExempt(_ path: String) -> Bool { path.hasPrefix("/v1/blobs/") }

    /// JSON or text, not encoded already, not a part of a range.
    static func isCompressible(_ response: Response) -> Bool {
        guard response.headers[.contentEncoding] == nil, response.status != .partialContent else { return false }
        let type = response.headers[.contentType] ?? ""
        return type.hasPrefix("application/json") || type.hasPrefix("text/")
    }
}

/// A request body read through a bounded gzip inflater, one piece of at most 64 KiB at a time.
struct InflatingBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let compressed: RequestBody
    let limit: Int

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(upstream: compressed.makeAsyncIterator(), inflater: Gzip.Inflater(limit: limit), limit: limit)
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var upstream: RequestBody.AsyncIterator
        let inflater: Gzip.Inflater
        let limit: Int
        var upstreamEnded = false

        mutating func next() async throws -> ByteBuffer? {
            do {
                while true {
                    if let piece = try inflater.next() {
                        if piece.isEmpty { continue }
                        return ByteBuffer(bytes: piece)
                    }
                    if upstreamEnded { return nil }
                    guard let buffer = try await upstream.next() else {
                        upstreamEnded = true
                        try inflater.finish()
                        return nil
                    }
                    inflater.feed(buffer.readableBytesView)
                    // A stream of empty blocks inflates to nothing for ever: the compressed bytes
                    // are held to the same limit as the inflated ones.
                    if inflater.consumed > limit { throw GzipError(.bodyTooLarge, "the gzip body is over \(limit) bytes") }
                }
            } catch let error as GzipError {
                throw APIError(error.code == .bodyTooLarge ? .contentTooLarge : .badRequest, error.code, error.message)
            }
        }
    }
}

/// Where ``CollectingWriter`` puts a response body's bytes.
final class BodySink {
    var buffer = ByteBuffer()
}

/// A response body writer that keeps the bytes (the body of a response about to be compressed).
struct CollectingWriter: ResponseBodyWriter {
    let sink: BodySink

    mutating func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        sink.buffer.writeBuffer(&buffer)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
