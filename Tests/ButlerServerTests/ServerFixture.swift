import ButlerModel
import ButlerServer
import ButlerTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// A server on a fresh store with four devices:
/// li and wang (butlers, east-3), zhou (supervisor, east-3 and east-4), chen (butler, west-1).
struct ServerFixture: Sendable {
    let directory: URL
    let configuration: ServerConfiguration
    let storage: any SyncStorage
    let blobs: BlobStore
    var tokens: [String: String] = [:]

    static let now = Timestamp.parse("2026-11-23T02:00:00.000Z")!

    /// Runs `body` with a fixture on `backend`; a PostgreSQL fixture gets a schema of its own.
    static func with(
        _ backend: Backend, configure: (inout ServerConfiguration) -> Void = { _ in }, _ body: @Sendable @escaping (ServerFixture) async throws -> Void
    ) async throws {
        let scratch = Scratch("server-test")
        defer { withExtendedLifetime(scratch) {} }
        let setUp: (inout ServerConfiguration) -> Void = { config in
            config.clock = FixedWallClock(Self.now)
            config.maxPushBytes = 1 << 20
            config.maxBlobBytes = 10 << 20
            configure(&config)
        }
        try await InProcessServer.with(backend, directory: scratch.url, configure: setUp) { server in
            var fixture = ServerFixture(directory: server.data, configuration: server.configuration, storage: server.storage, blobs: server.blobs)
            fixture.tokens["li"] = try await server.addDevice("li", role: .butler, zones: ["east-3"])
            fixture.tokens["wang"] = try await server.addDevice("wang", role: .butler, zones: ["east-3"])
            fixture.tokens["zhou"] = try await server.addDevice("zhou", role: .supervisor, zones: ["east-3", "east-4"])
            fixture.tokens["chen"] = try await server.addDevice("chen", role: .butler, zones: ["west-1"])
            fixture.tokens["pm"] = try await server.addDevice("pm", role: .manager, zones: ["east-3"])
            try await body(fixture)
        }
    }

    func app() -> some ApplicationProtocol {
        ButlerServer.buildApplication(configuration: configuration, storage: storage, blobs: blobs)
    }

    func headers(_ device: String?) -> HTTPFields {
        var fields = HTTPFields()
        fields[.init("Butler-Protocol")!] = "1"
        if let device { fields[.authorization] = "Bearer \(tokens[device]!)" }
        return fields
    }

    /// Pushes `deltas` as `device`; the reply must be 200, and its per-delta results are returned.
    func push(_ client: any TestClientProtocol, as device: String, _ deltas: [RecordState]) async throws -> [PushResponse.Result] {
        let response = try await client.execute(uri: "/v1/push", method: .post, headers: headers(device), body: Self.body(Deltas.push(deltas)))
        #expect(response.status == .ok)
        return try PushResponse(json: Self.json(response)).results
    }

    static func json(_ response: TestResponse) throws -> JSONValue {
        try JSONParser.parse(Array(response.body.readableBytesView))
    }

    static func body(_ value: JSONValue) -> ByteBuffer { ByteBuffer(bytes: value.canonicalBytes) }
}

/// Deltas the tests push, made with the model's edit API.
enum Deltas {
    static let zone = try! Zone("east-3")
    static let template = try! TemplateCatalog.bundled().template("building-patrol")

    static func author(_ replica: String) -> Author { try! Author(replica: ReplicaID(replica), name: replica) }
    static func stamp(_ replica: String, _ millis: Int64) -> EditStamp {
        EditStamp(author: author(replica), time: HLCTimestamp(millis: millis))
    }

    /// A new form created by `replica` (li's device unless told).
    static func form(_ id: String = "form-1", zone: Zone = zone, by replica: String = "li-dev") -> RecordState {
        try! InspectionForm.create(
            id: RecordID(id), zone: zone, template: template, place: "3号楼 楼梯间", at: ServerFixture.now,
            stamp: stamp(replica, 1_795_000_000_000))
    }

    static func push(_ deltas: [RecordState]) -> JSONValue { PushRequest(deltas: deltas).jsonValue }
}
