import ButlerModel
import ButlerServer
import ButlerTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Every endpoint and every error code, through the real router (HummingbirdTesting `.router`).
@Suite("Server router")
struct RouterTests {
    typealias F = ServerFixture

    func withServer(_ backend: Backend, _ body: @Sendable @escaping (ServerFixture, any TestClientProtocol) async throws -> Void) async throws {
        try await ServerFixture.with(backend) { fixture in
            try await fixture.app().test(.router) { client in try await body(fixture, client) }
        }
    }

    func expectError(_ response: TestResponse, _ status: HTTPResponse.Status, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(response.status == status, sourceLocation: sourceLocation)
        let json = try F.json(response)
        #expect(json["code"] == .string(code), sourceLocation: sourceLocation)
        #expect(json["message"]?.stringValue?.isEmpty == false, sourceLocation: sourceLocation)
    }

    @Test("healthz and metrics answer without a token", arguments: Backend.available)
    func health(_ backend: Backend) async throws {
        try await withServer(backend) { _, client in
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)
            #expect(try F.json(health) == ["status": "ok"])
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .ok)
        }
    }

    @Test("a device learns its role and zones", arguments: Backend.available)
    func deviceMe(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            let response = try await client.execute(uri: "/v1/devices/me", method: .get, headers: f.headers("zhou"))
            #expect(
                try DeviceInfo(json: F.json(response))
                    == DeviceInfo(name: "zhou", role: .supervisor, zones: [try Zone("east-3"), try Zone("east-4")], estateUTCOffsetSeconds: 8 * 3600))
        }
    }

    @Test("authentication and versioning errors", arguments: Backend.available)
    func authErrors(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            try expectError(try await client.execute(uri: "/v1/pull", method: .get, headers: f.headers(nil)), .unauthorized, "unauthorized")
            var forged = f.headers(nil)
            forged[.authorization] = "Bearer bt_0000000000000000000000000000000000000000000000000000000000000000"
            try expectError(try await client.execute(uri: "/v1/pull", method: .get, headers: forged), .unauthorized, "unauthorized")
            var noVersion = f.headers("li")
            noVersion[.init("Butler-Protocol")!] = nil
            try expectError(try await client.execute(uri: "/v1/pull", method: .get, headers: noVersion), .badRequest, "protocol-version")
            var oldVersion = f.headers("li")
            oldVersion[.init("Butler-Protocol")!] = "0"
            try expectError(try await client.execute(uri: "/v1/pull", method: .get, headers: oldVersion), .upgradeRequired, "protocol-version")
            try await DeviceRegistry(storage: f.storage).revoke(name: "li")
            try expectError(try await client.execute(uri: "/v1/pull", method: .get, headers: f.headers("li")), .unauthorized, "token-revoked")
            try expectError(try await client.execute(uri: "/v1/nope", method: .get, headers: f.headers("wang")), .notFound, "not-found")
        }
    }

    @Test("push merges, is idempotent, and refuses other zones, bad fields and supervisor-only writes", arguments: Backend.available)
    func push(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            let form = Deltas.form()
            let first = try PushResponse(json: F.json(try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("li"), body: F.body(Deltas.push([form])))))
            #expect(first.results.map(\.status) == [.accepted])
            let cursor = try await f.storage.latestCursor()
            // A re-sent batch (its reply lost) is accepted again and changes nothing.
            let again = try PushResponse(json: F.json(try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("li"), body: F.body(Deltas.push([form])))))
            #expect(again.results.map(\.status) == [.accepted])
            #expect(try await f.storage.latestCursor() == cursor)

            var state = form
            let review = try InspectionForm.submit(&state, stamp: Deltas.stamp("li-dev", 1_795_000_001_000))
            let reviewed = try InspectionForm.review(&state, at: F.now, stamp: Deltas.stamp("li-dev", 1_795_000_002_000))
            let foreign = Deltas.form("form-west", zone: try Zone("west-1"))
            var bad = form
            let badField = bad.write("items/tiles/colour", "red", stamp: Deltas.stamp("li-dev", 1_795_000_003_000))
            let future = bad.write("weather", "晴", stamp: Deltas.stamp("li-dev", HybridLogicalClock.millis(F.now) + 30 * 86_400_000))
            let malformed: JSONValue = ["id": "x", "type": "invoice", "zone": "east-3", "context": [:], "fields": [:]]
            var deltas = Deltas.push([review, reviewed, foreign, badField, future])
            if case .object(var o) = deltas, case .array(var list) = o["deltas"]! {
                list.append(malformed)
                o["deltas"] = .array(list)
                deltas = .object(o)
            }
            let reply = try PushResponse(json: F.json(try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("li"), body: F.body(deltas))))
            #expect(reply.results.map(\.status) == [.accepted, .refused, .refused, .refused, .refused, .refused])
            #expect(reply.results.map(\.code) == [nil, "role-forbidden", "zone-forbidden", "invalid-field", "clock-ahead", "invalid-value"])
            // Nothing of the refused deltas is stored anywhere.
            let west = try await f.storage.changes(after: 0, zones: [try Zone("west-1")], limit: 10)
            #expect(west.changes.isEmpty)
            // The supervisor may review.
            // The supervisor may review (from its own replica: li's replica id is li's alone).
            var supervisor = form
            _ = try InspectionForm.submit(&supervisor, stamp: Deltas.stamp("li-dev", 1_795_000_001_000))
            let zhouReview = try InspectionForm.review(&supervisor, at: F.now, stamp: Deltas.stamp("zhou-dev", 1_795_000_002_000))
            let ok = try PushResponse(json: F.json(try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("zhou"), body: F.body(Deltas.push([zhouReview])))))
            #expect(ok.results.map(\.status) == [.accepted])
        }
    }

    @Test("malformed, oversized and wrong-version pushes are refused whole, storing nothing", arguments: Backend.available)
    func pushErrors(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            try expectError(
                try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("li"), body: ByteBuffer(string: "{\"protocol\":1,\"deltas\":[")),
                .badRequest, "invalid-json")
            try expectError(
                try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("li"), body: F.body(["protocol": 2, "deltas": []])),
                .upgradeRequired, "protocol-version")
            let huge = ByteBuffer(repeating: UInt8(ascii: " "), count: 2 << 20)
            try expectError(try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("li"), body: huge), .contentTooLarge, "body-too-large")
            #expect(try await f.storage.latestCursor() == 0)
        }
    }

    @Test("pull pages through the feed of the caller's zones only", arguments: Backend.available)
    func pull(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            let forms = (1...5).map { Deltas.form("form-\($0)") }
            _ = try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("li"), body: F.body(Deltas.push(forms)))
            _ = try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("chen"), body: F.body(Deltas.push([Deltas.form("form-w", zone: try Zone("west-1"), by: "chen-dev")])))
            var cursor = "0"
            var seen: [String] = []
            var pages = 0
            while true {
                let page = try PullResponse(json: F.json(try await client.execute(uri: "/v1/pull?cursor=\(cursor)&limit=2", method: .get, headers: f.headers("wang"))))
                seen += page.changes.map(\.id.rawValue)
                cursor = page.cursor
                pages += 1
                if !page.more { break }
            }
            #expect(seen == forms.map(\.id.rawValue))
            #expect(pages == 3)
            // The page is assembled from stored bytes; it is still exactly the canonical encoding.
            let raw = try await client.execute(uri: "/v1/pull?limit=3", method: .get, headers: f.headers("wang"))
            #expect(Array(raw.body.readableBytesView) == (try PullResponse(json: F.json(raw)).jsonValue.canonicalBytes))
            let chen = try PullResponse(json: F.json(try await client.execute(uri: "/v1/pull", method: .get, headers: f.headers("chen"))))
            #expect(chen.changes.map(\.id.rawValue) == ["form-w"])
            try expectError(try await client.execute(uri: "/v1/pull?cursor=abc", method: .get, headers: f.headers("li")), .badRequest, "invalid-cursor")
            try expectError(try await client.execute(uri: "/v1/pull?limit=0", method: .get, headers: f.headers("li")), .badRequest, "invalid-value")
            try expectError(try await client.execute(uri: "/v1/pull?limit=999999", method: .get, headers: f.headers("li")), .badRequest, "invalid-value")
            // A live pull waits 0…60 s; anything else is refused before it waits.
            for wait in ["61", "-1", "x", ""] {
                try expectError(try await client.execute(uri: "/v1/pull?wait=\(wait)", method: .get, headers: f.headers("li")), .badRequest, "invalid-value")
            }
            // With changes to send, a live pull answers at once, as a plain one does.
            let live = try PullResponse(json: F.json(try await client.execute(uri: "/v1/pull?limit=3&wait=60", method: .get, headers: f.headers("wang"))))
            #expect(live.changes.count == 3)
        }
    }

    @Test("blob upload resumes at the server's offset, verifies the hash, and downloads with Range", arguments: Backend.available)
    func blobs(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let sha = SHA256Hasher.hex(of: bytes)
            let upload = "/v1/blobs/\(sha)/upload"
            #expect(try BlobStatus(json: F.json(try await client.execute(uri: upload, method: .get, headers: f.headers("li")))).received == 0)
            let first = try BlobStatus(json: F.json(try await client.execute(
                uri: "\(upload)?offset=0&length=\(bytes.count)", method: .patch, headers: f.headers("li"), body: ByteBuffer(bytes: bytes[0..<100_000]))))
            #expect(first.received == 100_000 && !first.complete)
            try expectError(
                try await client.execute(uri: "\(upload)?offset=5&length=\(bytes.count)", method: .patch, headers: f.headers("li"), body: ByteBuffer(bytes: bytes[5..<10])),
                .conflict, "offset-mismatch")
            try expectError(
                try await client.execute(uri: "\(upload)?offset=100000&length=5", method: .patch, headers: f.headers("li"), body: ByteBuffer(bytes: bytes[0..<1])),
                .conflict, "length-mismatch")
            let done = try BlobStatus(json: F.json(try await client.execute(
                uri: "\(upload)?offset=100000&length=\(bytes.count)", method: .patch, headers: f.headers("li"), body: ByteBuffer(bytes: bytes[100_000...]))))
            #expect(done.complete && done.received == 300_000)
            // Invisible until a photo record of the caller's zones references it.
            try expectError(try await client.execute(uri: "/v1/blobs/\(sha)", method: .get, headers: f.headers("li")), .notFound, "not-found")
            var photo = RecordState(id: try Photo.recordID(sha256: sha, zone: Deltas.zone), type: .photo, zone: Deltas.zone)
            let delta = try Photo.record(&photo, sha256: sha, bytes: 300_000, mediaType: "image/jpeg", takenAt: F.now, caption: nil, attachTo: RecordID("form-1"), item: "tiles", stamp: Deltas.stamp("li-dev", 1_795_000_000_000))
            _ = try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("li"), body: F.body(Deltas.push([delta])))
            let whole = try await client.execute(uri: "/v1/blobs/\(sha)", method: .get, headers: f.headers("wang"))
            #expect(whole.status == .ok && Array(whole.body.readableBytesView) == bytes)
            var ranged = f.headers("wang")
            ranged[.range] = "bytes=299990-"
            let tail = try await client.execute(uri: "/v1/blobs/\(sha)", method: .get, headers: ranged)
            #expect(tail.status == .partialContent && Array(tail.body.readableBytesView) == Array(bytes[299_990...]))
            #expect(tail.headers[.contentRange] == "bytes 299990-299999/300000")
            ranged[.range] = "bytes=-4"
            #expect(Array(try await client.execute(uri: "/v1/blobs/\(sha)", method: .get, headers: ranged).body.readableBytesView) == Array(bytes[299_996...]))
            ranged[.range] = "bytes=400000-"
            try expectError(try await client.execute(uri: "/v1/blobs/\(sha)", method: .get, headers: ranged), .rangeNotSatisfiable, "range-not-satisfiable")
            try expectError(try await client.execute(uri: "/v1/blobs/\(sha)", method: .get, headers: f.headers("chen")), .notFound, "not-found")
            try expectError(try await client.execute(uri: "/v1/blobs/../etc/passwd", method: .get, headers: f.headers("li")), .notFound, "not-found")
            try expectError(try await client.execute(uri: "/v1/blobs/ABC/upload", method: .get, headers: f.headers("li")), .badRequest, "invalid-value")
            // Re-uploading a held blob sends nothing more and stays complete.
            let again = try BlobStatus(json: F.json(try await client.execute(uri: upload, method: .get, headers: f.headers("li"))))
            #expect(again.complete)
        }
    }

    @Test("a wrong hash discards the upload; a chunk past the length is refused", arguments: Backend.available)
    func blobErrors(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            let sha = String(repeating: "ab", count: 32)
            try expectError(
                try await client.execute(uri: "/v1/blobs/\(sha)/upload?offset=0&length=4", method: .patch, headers: f.headers("li"), body: ByteBuffer(bytes: [1, 2, 3, 4])),
                .unprocessableContent, "hash-mismatch")
            #expect(try BlobStatus(json: F.json(try await client.execute(uri: "/v1/blobs/\(sha)/upload", method: .get, headers: f.headers("li")))).received == 0)
            try expectError(
                try await client.execute(uri: "/v1/blobs/\(sha)/upload?offset=0&length=2", method: .patch, headers: f.headers("li"), body: ByteBuffer(bytes: [1, 2, 3])),
                .badRequest, "chunk-too-large")
            try expectError(
                try await client.execute(uri: "/v1/blobs/\(sha)/upload?offset=0&length=999999999", method: .patch, headers: f.headers("li"), body: ByteBuffer(bytes: [1])),
                .contentTooLarge, "blob-too-large")
            try expectError(
                try await client.execute(uri: "/v1/blobs/\(sha)/upload?offset=-1&length=2", method: .patch, headers: f.headers("li"), body: ByteBuffer(bytes: [1])),
                .badRequest, "invalid-value")
        }
    }

    @Test("supervisor views: conflicts, escalations, callbacks", arguments: Backend.available)
    func views(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            var a = Deltas.form()
            var b = a
            let defect = try InspectionForm.setResult(&a, item: "stairwell-lights", result: .defect, at: F.now, stamp: Deltas.stamp("li-dev", 1_795_000_001_000))
            let ok = try InspectionForm.setResult(&b, item: "stairwell-lights", result: .ok, at: F.now, stamp: Deltas.stamp("wang-dev", 1_795_000_002_000))
            let order = try WorkOrder.create(
                id: RecordID("wo-1"), zone: Deltas.zone, place: "B1", category: .general, description: nil,
                reportedAt: F.now.addingTimeInterval(-3 * 86_400), stamp: Deltas.stamp("li-dev", 1_795_000_000_000))
            var done = try WorkOrder.create(
                id: RecordID("wo-2"), zone: Deltas.zone, place: "B2", category: .dangerous, description: nil,
                reportedAt: F.now.addingTimeInterval(-3 * 86_400), stamp: Deltas.stamp("li-dev", 1_795_000_000_000))
            let complete = try WorkOrder.complete(&done, at: F.now.addingTimeInterval(-2 * 86_400), stamp: Deltas.stamp("li-dev", 1_795_000_000_500))
            let li = try PushResponse(json: F.json(try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("li"), body: F.body(Deltas.push([Deltas.form(), defect, order, done, complete])))))
            #expect(li.results.allSatisfy { $0.status == .accepted })
            let wang = try PushResponse(json: F.json(try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("wang"), body: F.body(Deltas.push([ok])))))
            #expect(wang.results.map(\.status) == [.accepted])
            let conflicts = try F.json(try await client.execute(uri: "/v1/views/conflicts", method: .get, headers: f.headers("zhou")))
            #expect(conflicts["conflicts"]?.arrayValue?.first?["rule"] == "defect-wins")
            let escalations = try F.json(try await client.execute(uri: "/v1/views/escalations", method: .get, headers: f.headers("zhou")))
            let kinds = escalations["escalations"]?.arrayValue?.compactMap { $0["kind"]?.stringValue } ?? []
            #expect(kinds.sorted() == ["callback-overdue", "repair-not-started"])
            let callbacks = try F.json(try await client.execute(uri: "/v1/views/callbacks", method: .get, headers: f.headers("zhou")))
            #expect(callbacks["callbacks"]?.arrayValue?.first?["overdue"] == true)
            // Another zone's supervisor view is empty.
            let west = try F.json(try await client.execute(uri: "/v1/views/conflicts", method: .get, headers: f.headers("chen")))
            #expect(west["conflicts"] == [])
        }
    }
}

@Suite("PostgreSQL backend")
struct PostgresAvailabilityTests {
    /// Says loudly when the PostgreSQL half of the suite did not run.
    @Test(
        "the server tests also ran against PostgreSQL",
        .enabled(if: Backend.databaseURL != nil, "SKIPPED: BUTLER_TEST_DATABASE_URL is not set, so the PostgreSQL backend was NOT tested; run Tests/run.sh, which starts a throwaway cluster"))
    func postgresRan() async throws {
        #expect(Backend.available.contains(.postgres))
        try await ServerFixture.with(.postgres) { fixture in
            try await fixture.storage.health()
        }
    }
}

/// Issue 8's hand-written attacks: each refused with a code, or stored exactly and harmlessly.
@Suite("Server router: hostile input")
struct HostileInputRouterTests {
    typealias F = ServerFixture

    func withServer(_ backend: Backend, _ body: @Sendable @escaping (ServerFixture, any TestClientProtocol) async throws -> Void) async throws {
        try await ServerFixture.with(backend) { fixture in
            try await fixture.app().test(.router) { client in try await body(fixture, client) }
        }
    }

    static func push(_ f: ServerFixture, _ client: any TestClientProtocol, _ body: JSONValue, as device: String = "li") async throws -> TestResponse {
        try await client.execute(uri: "/v1/push", method: .post, headers: f.headers(device), body: F.body(body))
    }

    @Test("SQL and JSON metacharacters in every string field are stored and served back exactly", arguments: Backend.available)
    func metacharacters(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            let nasty = "'; DROP TABLE records; -- \" OR 1=1 /* \\ \u{0000} \u{001F} ' || pg_sleep(5) -- 中文 😀"
            var form = Deltas.form("form-sql")
            let delta = try Deltas.form("form-sql").merged(with: InspectionForm.addNote(&form, item: "tiles", text: nasty, at: F.now, stamp: Deltas.stamp("li-dev", 1_795_000_001_000)))
            let setPlace = try InspectionForm.setField(&form, "place", to: nasty, stamp: Deltas.stamp("li-dev", 1_795_000_002_000))
            let reply = try PushResponse(json: F.json(try await Self.push(f, client, Deltas.push([delta, setPlace]))))
            #expect(reply.results.map(\.status) == [.accepted, .accepted])
            let page = try PullResponse(json: F.json(try await client.execute(uri: "/v1/pull", method: .get, headers: f.headers("wang"))))
            let view = try InspectionForm(try #require(page.changes.first))
            #expect(view.place == nasty)
            #expect(view.items["tiles"]?.notes.first?.text == nasty)
            try await f.storage.health()
        }
    }

    @Test("absurd contexts are refused with a code and store nothing", arguments: Backend.available)
    func absurdContexts(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            var many: [String: JSONValue] = [:]
            for n in 0..<(RecordLimits.maxReplicas + 1) { many["r\(n)"] = 1 }
            let thousands: JSONValue = ["id": "form-x", "type": "inspection-form", "zone": "east-3", "context": ["vv": .object(many)], "fields": [:]]
            let hugeCounter: JSONValue = ["id": "form-y", "type": "inspection-form", "zone": "east-3", "context": ["vv": ["a": .int(Int64.max)]], "fields": [:]]
            let negative: JSONValue = ["id": "form-z", "type": "inspection-form", "zone": "east-3", "context": ["cloud": ["a": [-3]]], "fields": [:]]
            let reply = try PushResponse(json: F.json(try await Self.push(f, client, ["protocol": 1, "deltas": [thousands, hugeCounter, negative]])))
            #expect(reply.results.map(\.status) == [.refused, .refused, .refused])
            #expect(reply.results.allSatisfy { $0.code != nil && $0.message?.isEmpty == false })
            #expect(try await f.storage.latestCursor() == 0)
        }
    }

    @Test("a replayed batch, a forged token and a foreign zone change nothing", arguments: Backend.available)
    func replayAndForgery(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            var form = Deltas.form("form-r")
            let edit = try InspectionForm.setResult(&form, item: "tiles", result: .defect, at: F.now, stamp: Deltas.stamp("li-dev", 1_795_000_001_000))
            let batch = Deltas.push([Deltas.form("form-r"), edit])
            _ = try await Self.push(f, client, batch)
            let cursor = try await f.storage.latestCursor()
            for _ in 0..<3 { _ = try await Self.push(f, client, batch) }
            #expect(try await f.storage.latestCursor() == cursor, "replays change nothing")
            var forged = f.headers(nil)
            forged[.authorization] = "Bearer " + String(repeating: "A", count: 600)
            #expect(try await client.execute(uri: "/v1/push", method: .post, headers: forged, body: F.body(batch)).status == .unauthorized)
            let foreign = try PushResponse(json: F.json(try await Self.push(f, client, batch, as: "chen")))
            #expect(foreign.results.allSatisfy { $0.code == "zone-forbidden" })
            #expect(try await f.storage.latestCursor() == cursor)
        }
    }
}
