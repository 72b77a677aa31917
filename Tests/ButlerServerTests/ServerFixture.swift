import ButlerModel
import ButlerServer
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore

/// A server on a fresh data directory with four devices:
/// li and wang (butlers, east-3), zhou (supervisor, east-3 and east-4), chen (butler, west-1).
struct ServerFixture {
    let directory: URL
    let configuration: ServerConfiguration
    let storage: SQLiteStorage
    let blobs: BlobStore
    var tokens: [String: String] = [:]

    static let now = Timestamp.parse("2026-11-23T02:00:00.000Z")!

    init() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("butler-server-test-\(UUID().uuidString)")
        var config = ServerConfiguration()
        config.dataDirectory = directory
        config.port = 0
        config.clock = FixedWallClock(Self.now)
        config.maxPushBytes = 1 << 20
        config.maxBlobBytes = 10 << 20
        configuration = config
        (storage, blobs) = try await ButlerServer.openEmbedded(config)
        let registry = DeviceRegistry(storage: storage)
        tokens["li"] = try await registry.add(name: "li", role: .butler, zones: [Zone("east-3")])
        tokens["wang"] = try await registry.add(name: "wang", role: .butler, zones: [Zone("east-3")])
        tokens["zhou"] = try await registry.add(name: "zhou", role: .supervisor, zones: [Zone("east-3"), Zone("east-4")])
        tokens["chen"] = try await registry.add(name: "chen", role: .butler, zones: [Zone("west-1")])
    }

    func cleanUp() { try? FileManager.default.removeItem(at: directory) }

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

    static func form(_ id: String = "form-1", zone: Zone = zone) -> RecordState {
        try! InspectionForm.create(
            id: RecordID(id), zone: zone, template: template, place: "3号楼 楼梯间", at: ServerFixture.now,
            stamp: stamp("li-dev", 1_795_000_000_000))
    }

    static func push(_ deltas: [RecordState]) -> JSONValue { PushRequest(deltas: deltas).jsonValue }
}
