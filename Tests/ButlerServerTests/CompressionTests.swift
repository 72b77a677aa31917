import ButlerFiles
import ButlerModel
import ButlerServer
import ButlerTestSupport
import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// gzip on the wire (Protocol/SYNC.md §8.2), through the real router and through a real server
/// on a socket: negotiated by headers, bounded while inflating, never on photo bytes.
@Suite("Compression")
struct CompressionTests {
    typealias F = ServerFixture

    /// The router in memory, and a live server on loopback (one connection for the whole test, so
    /// a refused body must not spoil the next request).
    enum Framework: String, CaseIterable, CustomTestStringConvertible {
        case router, live
        var setup: TestingSetup { self == .router ? .router : .live }
        var testDescription: String { rawValue }
    }

    func withServer(_ framework: Framework, _ body: @Sendable @escaping (ServerFixture, any TestClientProtocol) async throws -> Void) async throws {
        try await ServerFixture.with(.sqlite) { fixture in
            try await fixture.app().test(framework.setup) { client in try await body(fixture, client) }
        }
    }

    func headers(_ f: F, _ device: String, _ extra: [HTTPField.Name: String]) -> HTTPFields {
        var fields = f.headers(device)
        for (name, value) in extra { fields[name] = value }
        return fields
    }

    func expectError(_ response: TestResponse, _ status: HTTPResponse.Status, _ code: ErrorCode, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(response.status == status, sourceLocation: sourceLocation)
        let json = try F.json(response)
        #expect(json["code"] == .string(code.rawValue), sourceLocation: sourceLocation)
        #expect(json["message"]?.stringValue?.isEmpty == false, sourceLocation: sourceLocation)
    }

    static func forms(_ count: Int) -> [RecordState] { (1...count).map { Deltas.form("form-\($0)") } }

    @Test("§8.2: a gzipped push is merged as its plain bytes would be; the pull is gzipped only when asked", arguments: Framework.allCases)
    func pushAndPull(_ framework: Framework) async throws {
        try await withServer(framework) { f, client in
            let plain = Deltas.push(Self.forms(20)).canonicalBytes
            let packed = Gzip.compress(plain)
            #expect(packed.count < plain.count / 3)
            let pushed = try await client.execute(
                uri: "/v1/push", method: .post, headers: headers(f, "li", [.contentEncoding: "gzip", .contentType: "application/json"]),
                body: ByteBuffer(bytes: packed))
            #expect(pushed.status == .ok)
            #expect(try PushResponse(json: F.json(pushed)).results.map(\.status) == Array(repeating: .accepted, count: 20))

            // An old client asks for nothing: the page is as it always was.
            let old = try await client.execute(uri: "/v1/pull?limit=100", method: .get, headers: f.headers("wang"))
            #expect(old.status == .ok)
            #expect(old.headers[.contentEncoding] == nil)
            #expect(old.headers[.vary] == "Accept-Encoding")
            let page = try PullResponse(json: F.json(old))
            #expect(Set(page.changes.map(\.id.rawValue)) == Set((1...20).map { "form-\($0)" }))

            // A new one asks for gzip: the same bytes, gzipped, with the compressed length.
            for accept in ["gzip", "br;q=1, gzip;q=0.5", "*"] {
                let new = try await client.execute(uri: "/v1/pull?limit=100", method: .get, headers: headers(f, "wang", [.acceptEncoding: accept]))
                #expect(new.status == .ok)
                #expect(new.headers[.contentEncoding] == "gzip", "\(accept)")
                #expect(new.headers[.vary] == "Accept-Encoding")
                #expect(new.headers[.contentLength] == String(new.body.readableBytes))
                #expect(new.body.readableBytes < old.body.readableBytes / 3)
                #expect(try Gzip.decompress(new.body.readableBytesView, limit: 1 << 20) == Array(old.body.readableBytesView))
            }
            // gzip refused by weight: plain.
            let refused = try await client.execute(uri: "/v1/pull?limit=100", method: .get, headers: headers(f, "wang", [.acceptEncoding: "gzip;q=0, identity"]))
            #expect(refused.headers[.contentEncoding] == nil && Array(refused.body.readableBytesView) == Array(old.body.readableBytesView))

            // The views are JSON routes too; a reply under the threshold goes as it is.
            let views = try await client.execute(uri: "/v1/views/conflicts", method: .get, headers: headers(f, "zhou", [.acceptEncoding: "gzip"]))
            #expect(views.status == .ok)
            let me = try await client.execute(uri: "/v1/devices/me", method: .get, headers: headers(f, "li", [.acceptEncoding: "gzip"]))
            #expect(me.status == .ok && me.body.readableBytes < 150 && me.headers[.contentEncoding] == nil)
            #expect(try DeviceInfo(json: F.json(me)).name == "li")
        }
    }

    @Test("§8.2: a gzip bomb is 413 body-too-large while inflating, corrupt gzip 400 invalid-encoding, other codings 415; the next request is served", arguments: Framework.allCases)
    func adversarial(_ framework: Framework) async throws {
        try await withServer(framework) { f, client in
            let limit = f.configuration.maxPushBytes
            // A push that is valid JSON all the way, inflating to 64× the limit: spaces after the
            // opening brace. Its compressed size is far below the limit.
            let deflater = Gzip.Deflater(level: 9)
            var bomb = deflater.compress(Array(#"{"protocol":1,"deltas":["#.utf8))
            let spaces = [UInt8](repeating: UInt8(ascii: " "), count: 1 << 20)
            for _ in 0..<(64 * limit >> 20) { bomb += deflater.compress(spaces) }
            bomb += deflater.finish()
            #expect(bomb.count < limit / 8)
            let gzip: [HTTPField.Name: String] = [.contentEncoding: "gzip"]
            try expectError(
                try await client.execute(uri: "/v1/push", method: .post, headers: headers(f, "li", gzip), body: ByteBuffer(bytes: bomb)),
                .contentTooLarge, .bodyTooLarge)

            // Not gzip at all, and gzip cut short.
            let plain = Deltas.push([Deltas.form("form-9")]).canonicalBytes
            try expectError(
                try await client.execute(uri: "/v1/push", method: .post, headers: headers(f, "li", gzip), body: ByteBuffer(bytes: plain)),
                .badRequest, .invalidEncoding)
            try expectError(
                try await client.execute(
                    uri: "/v1/push", method: .post, headers: headers(f, "li", gzip), body: ByteBuffer(bytes: Gzip.compress(plain).dropLast(9))),
                .badRequest, .invalidEncoding)

            // Codings the server does not take: 415, saying what it takes.
            for coding in ["deflate", "br", "gzip, gzip", "compress"] {
                let response = try await client.execute(
                    uri: "/v1/push", method: .post, headers: headers(f, "li", [.contentEncoding: coding]), body: ByteBuffer(bytes: plain))
                try expectError(response, .unsupportedMediaType, .unsupportedEncoding)
                #expect(response.headers[.acceptEncoding] == "gzip")
            }
            // Nothing of it was stored, and the same connection goes on serving.
            #expect(try await f.storage.latestCursor() == 0)
            let ok = try await client.execute(
                uri: "/v1/push", method: .post, headers: headers(f, "li", [.contentEncoding: "identity"]), body: ByteBuffer(bytes: plain))
            #expect(try PushResponse(json: F.json(ok)).results.map(\.status) == [.accepted])
            let gzipped = try await client.execute(uri: "/v1/push", method: .post, headers: headers(f, "li", gzip), body: ByteBuffer(bytes: Gzip.compress(plain)))
            #expect(try PushResponse(json: F.json(gzipped)).results.map(\.status) == [.accepted])
            #expect(try await f.storage.latestCursor() == 1)
        }
    }

    @Test("§8.2: photo uploads and downloads are never encoded: an encoded upload is 415, downloads and ranges are byte-exact", arguments: Framework.allCases)
    func blobsUntouched(_ framework: Framework) async throws {
        try await withServer(framework) { f, client in
            // Very compressible bytes: only the route keeps them from being gzipped.
            let bytes = [UInt8](String(repeating: "地砖松动 tiles loose; ", count: 8_000).utf8)
            let sha = SHA256Hasher.hex(of: bytes)
            let upload = "/v1/blobs/\(sha)/upload?offset=0&length=\(bytes.count)"
            let encoded = try await client.execute(
                uri: upload, method: .patch, headers: headers(f, "li", [.contentEncoding: "gzip"]), body: ByteBuffer(bytes: Gzip.compress(bytes)))
            try expectError(encoded, .unsupportedMediaType, .unsupportedEncoding)
            #expect(encoded.headers[.acceptEncoding] == "identity")
            let done = try BlobStatus(json: F.json(try await client.execute(uri: upload, method: .patch, headers: f.headers("li"), body: ByteBuffer(bytes: bytes))))
            #expect(done.complete)
            var photo = RecordState(id: try Photo.recordID(sha256: sha, zone: Deltas.zone), type: .photo, zone: Deltas.zone)
            let delta = try Photo.record(
                &photo, sha256: sha, bytes: Int64(bytes.count), mediaType: "image/jpeg", takenAt: F.now, caption: nil, attachTo: RecordID("form-1"),
                item: "tiles", stamp: Deltas.stamp("li-dev", 1_795_000_000_000))
            _ = try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("li"), body: F.body(Deltas.push([delta])))
            let whole = try await client.execute(uri: "/v1/blobs/\(sha)", method: .get, headers: headers(f, "wang", [.acceptEncoding: "gzip"]))
            #expect(whole.status == .ok && whole.headers[.contentEncoding] == nil && Array(whole.body.readableBytesView) == bytes)
            let tail = try await client.execute(
                uri: "/v1/blobs/\(sha)", method: .get, headers: headers(f, "wang", [.acceptEncoding: "gzip", .range: "bytes=1000-"]))
            #expect(tail.status == .partialContent && tail.headers[.contentEncoding] == nil && Array(tail.body.readableBytesView) == Array(bytes[1000...]))
        }
    }
}
