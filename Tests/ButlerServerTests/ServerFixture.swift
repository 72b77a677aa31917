import ButlerModel
import ButlerServer
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore

/// The storage backends the server tests run against: SQLite always, PostgreSQL when
/// `BUTLER_TEST_DATABASE_URL` names a database (Tests/run.sh starts one).
enum Backend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgres

    static let databaseURL = ProcessInfo.processInfo.environment["BUTLER_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let available: [Backend] = databaseURL == nil ? [.sqlite] : [.sqlite, .postgres]
    var description: String { rawValue }
}

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
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("butler-server-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var config = ServerConfiguration()
        config.dataDirectory = directory
        config.port = 0
        config.clock = FixedWallClock(Self.now)
        config.maxPushBytes = 1 << 20
        config.maxBlobBytes = 10 << 20
        configure(&config)
        if backend == .postgres {
            let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
            config.databaseURL = "\(Backend.databaseURL!)?schema=\(schema)"
        }
        let settings = config
        try await ButlerServer.withStorage(settings) { storage, blobs in
            var fixture = ServerFixture(directory: directory, configuration: settings, storage: storage, blobs: blobs)
            let registry = DeviceRegistry(storage: storage)
            fixture.tokens["li"] = try await registry.add(name: "li", role: .butler, zones: [Zone("east-3")])
            fixture.tokens["wang"] = try await registry.add(name: "wang", role: .butler, zones: [Zone("east-3")])
            fixture.tokens["zhou"] = try await registry.add(name: "zhou", role: .supervisor, zones: [Zone("east-3"), Zone("east-4")])
            fixture.tokens["chen"] = try await registry.add(name: "chen", role: .butler, zones: [Zone("west-1")])
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
