import ButlerClient
import ButlerFiles
import ButlerModel
import ButlerTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// gzip on the wire (Protocol/SYNC.md §8.2) between real processes: the `butler` CLI and a real
/// `butler-server`, an old client that asks for nothing, and an old server that knows no gzip.
@Suite("End to end: compression", .serialized)
struct CompressionEndToEndTests {
    /// The server's Prometheus counter `name{direction="…"}`, read from `/metrics`.
    static func counter(_ server: ServerProcess, _ series: String) async throws -> Double {
        let metrics = try await runCommand(URL(fileURLWithPath: "/usr/bin/curl"), ["-sS", "\(server.url)/metrics"])
        let line = metrics.stdout.split(separator: "\n").first { $0.hasPrefix(series + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    @Test("§8.2: butlers sync through butler-server with gzip both ways; an old client is served plain; curl counts the compressed bytes")
    func realProcesses() async throws {
        let cluster = try await Cluster.processes("gzip")
        defer { cluster.terminate() }
        let server = cluster.node
        let liToken = try await server.addDevice("li", role: .butler, zones: ["east-3"])
        let wangToken = try await server.addDevice("wang", role: .butler, zones: ["east-3"])
        let li = cluster.scratch.url.appendingPathComponent("li").path
        let wang = cluster.scratch.url.appendingPathComponent("wang").path
        func butler(_ home: String, _ args: [String]) async throws -> CommandResult {
            let result = try await runCommand("butler", ["--home", home] + args)
            #expect(result.status == 0, "butler \(args.joined(separator: " ")): \(result.stderr)")
            return result
        }
        _ = try await butler(li, ["init", "--server", server.url, "--token", liToken, "--name", "李管家"])
        _ = try await butler(wang, ["init", "--server", server.url, "--token", wangToken, "--name", "王管家"])
        var forms: [String] = []
        for n in 0..<6 {
            let form = try await butler(li, ["form", "new", "--template", "building-patrol", "--zone", "east-3", "--place", "\(n + 1)号楼 楼梯间"])
            let id = form.stdout.trimmingCharacters(in: .newlines)
            forms.append(id)
            _ = try await butler(li, ["form", "set", id, "stairwell-lights", "--result", "defect", "--note", "3F 走廊灯不亮 \(n)"])
        }
        #expect(try await Self.counter(server, #"butler_server_gzip_total{direction="request"}"#) == 0)
        _ = try await butler(li, ["sync", "--quiet"])
        #expect(try await Self.counter(server, #"butler_server_gzip_total{direction="request"}"#) >= 1, "the push went gzipped")
        _ = try await butler(wang, ["sync", "--quiet"])
        #expect(try await Self.counter(server, #"butler_server_gzip_total{direction="response"}"#) >= 1, "the pull came gzipped")
        for id in forms {
            let mine = try JSONParser.parse(try await butler(li, ["form", "show", id, "--json"]).stdout)
            let theirs = try JSONParser.parse(try await butler(wang, ["form", "show", id, "--json"]).stdout)
            #expect(theirs == mine)
            #expect(theirs["items"]?["stairwell-lights"]?["result"] == "defect")
        }

        // The same pages to a new client and to an old one: the same changes, and libcurl's byte
        // counts show what the wire carried.
        var plainConfig = CurlTransport.Configuration(baseURL: server.url, token: wangToken)
        plainConfig.compression = false
        let old = CurlTransport(configuration: plainConfig)
        let new = CurlTransport(configuration: .init(baseURL: server.url, token: wangToken))
        let oldPage = try await old.pull(cursor: nil, limit: 1000)
        let newPage = try await new.pull(cursor: nil, limit: 1000)
        #expect(oldPage.changes.count == 6 && newPage.changes == oldPage.changes && newPage.cursor == oldPage.cursor)
        let (oldBytes, newBytes) = (old.wire.totals.received, new.wire.totals.received)
        #expect(oldBytes > 1000 && newBytes > 0 && newBytes * 3 < oldBytes, "plain \(oldBytes) B, gzip \(newBytes) B")

        // An old client's push: plain, accepted.
        let replica = try await old.issueReplica()
        let form = try InspectionForm.create(
            id: RecordID("form-old-client"), zone: Zone("east-3"), template: TemplateCatalog.bundled().template("building-patrol"), place: "门岗",
            at: Date(), stamp: EditStamp(author: Author(replica: replica, name: "old"), time: HLCTimestamp(millis: 1_795_000_000_000)))
        let pushedBefore = try await Self.counter(server, #"butler_server_gzip_total{direction="request"}"#)
        #expect(try await old.push(PushRequest(deltas: [form])).results.map(\.status) == [.accepted])
        #expect(try await Self.counter(server, #"butler_server_gzip_total{direction="request"}"#) == pushedBefore)
        #expect(old.wire.totals.sent == Int64(PushRequest(deltas: [form]).jsonValue.canonicalBytes.count) + 2, "the replica's {} and the plain push")
    }

    /// A server from before gzip bodies: it reads every body as JSON (a gzip body is then 400
    /// `invalid-json`), or, in `refuses` mode, knows encodings and answers 415.
    final class OldServer: Sendable {
        let refuses: Bool
        private let encodings = Mutex<[String]>([])
        init(refuses: Bool) { self.refuses = refuses }
        var seen: [String] { encodings.withLock { $0 } }

        func router() -> Router<BasicRequestContext> {
            let router = Router()
            router.post("v1/push") { request, _ in
                let encoding = request.headers[.contentEncoding] ?? "none"
                self.encodings.withLock { $0.append(encoding) }
                if self.refuses, encoding != "none" {
                    return Self.reply(.unsupportedMediaType, WireError(code: .unsupportedEncoding, message: "no encodings").jsonValue)
                }
                let body = try await request.body.collect(upTo: 1 << 20)
                guard let json = try? JSONParser.parse(Array(body.readableBytesView)), let deltas = try? PushRequest.decode(json) else {
                    return Self.reply(.badRequest, WireError(code: .invalidJSON, message: "not JSON").jsonValue)
                }
                let results = deltas.enumerated().map { PushResponse.Result(index: $0.offset, id: try? $0.element.get().id.rawValue, status: .accepted) }
                return Self.reply(.ok, PushResponse(results: results).jsonValue)
            }
            return router
        }

        static func reply(_ status: HTTPResponse.Status, _ json: JSONValue) -> Response {
            Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: json.canonicalBytes)))
        }
    }

    @Test("§8.2: an old server answering a gzip body with 400 invalid-json or 415 gets it again plain, and no more gzip from that client", arguments: [false, true])
    func oldServer(_ refuses: Bool) async throws {
        let old = OldServer(refuses: refuses)
        try await Application(router: old.router()).test(.live) { client in
            let transport = CurlTransport(configuration: .init(baseURL: "http://127.0.0.1:\(client.port!)", token: "bt_test"))
            let author = try Author(replica: ReplicaID("rold0000000000002"), name: "li")
            let template = try TemplateCatalog.bundled().template("building-patrol")
            for n in 0..<3 {
                let form = try InspectionForm.create(
                    id: RecordID("form-\(n)"), zone: Zone("east-3"), template: template, place: "门岗 \(n)", at: Date(),
                    stamp: EditStamp(author: author, time: HLCTimestamp(millis: 1_795_000_000_000 + Int64(n))))
                #expect(PushRequest(deltas: [form]).jsonValue.canonicalBytes.count >= 150, "big enough to be gzipped")
                #expect(try await transport.push(PushRequest(deltas: [form])).results.map(\.status) == [.accepted])
            }
            // One gzipped try, its plain resend, then plain only.
            #expect(old.seen == ["gzip", "none", "none", "none"])
        }
    }
}
