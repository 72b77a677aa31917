import ButlerClient
import ButlerModel
import ButlerServer
import Foundation
import Hummingbird
import Logging
import Synchronization

/// A butler-server's router running in this process on a fresh store: the same routes,
/// middleware, JSON and error replies as `butler-server serve`, with no socket and no process.
///
/// ``InProcessTransport`` sends a handheld's calls through it, so the sync engine runs against
/// the real server in memory (grpc-swift 2's in-process transport is the model). A test can cut
/// the server off (``setReachable(_:)``) to play a handheld out of coverage.
///
/// ```swift
/// try await InProcessServer.with(.sqlite, directory: scratch.path("server")) { server in
///     let token = try await server.addDevice("li", role: .butler, zones: ["east-3"])
///     let transport = server.transport(token: token)
/// }
/// ```
public final class InProcessServer: ServerNode {
    /// Names the node in ``url`` (`http://<name>.in-process.invalid`).
    public let name: String
    public let configuration: ServerConfiguration
    public let storage: any SyncStorage
    public let blobs: BlobStore
    let responder: RouterResponder<ButlerRequestContext>
    let logger: Logger
    private let reachable = Atomic<Bool>(true)

    init(name: String, configuration: ServerConfiguration, storage: any SyncStorage, blobs: BlobStore, logger: Logger) {
        self.name = name
        self.configuration = configuration
        self.storage = storage
        self.blobs = blobs
        self.logger = logger
        responder = ButlerServer.buildRouter(configuration: configuration, storage: storage, blobs: blobs, metrics: nil).buildResponder()
    }

    /// Opens a fresh store for `backend` in `directory` (a PostgreSQL store gets a schema of its
    /// own unless `databaseURL` names one to share), and runs `body` with the server; the store is
    /// closed when `body` returns.
    public static func with<T: Sendable>(
        _ backend: Backend, directory: URL, name: String = "node0", databaseURL: String? = nil, blobs: URL? = nil,
        configure: (inout ServerConfiguration) -> Void = { _ in }, _ body: @Sendable @escaping (InProcessServer) async throws -> T
    ) async throws -> T {
        var config = ServerConfiguration()
        config.dataDirectory = directory
        config.port = 0
        config.blobsOverride = blobs
        if backend == .postgres { config.databaseURL = databaseURL ?? Backend.freshSchemaURL() }
        configure(&config)
        let settings = config
        var logger = Logger(label: "butler.server.in-process")
        logger.logLevel = .critical
        let quiet = logger
        return try await ButlerServer.withStorage(settings, logger: quiet) { storage, blobs in
            try await body(InProcessServer(name: name, configuration: settings, storage: storage, blobs: blobs, logger: quiet))
        }
    }

    /// Another node on this node's store and blob folder, as `butler-server` nodes share one
    /// database: its own router, the same data.
    public func sibling(named name: String) -> InProcessServer {
        InProcessServer(name: name, configuration: configuration, storage: storage, blobs: blobs, logger: logger)
    }

    /// This node after a crash and restart: a new router and a new blob store on the same store
    /// and blob folder. What the old process held in memory (uploads under way, their claims) is
    /// gone; what reached the database and the disk stays.
    public func restarted() throws -> InProcessServer {
        InProcessServer(
            name: name, configuration: configuration, storage: storage,
            blobs: try BlobStore(directory: blobs.directory, maxBlobBytes: blobs.maxBlobBytes, durability: configuration.durability), logger: logger)
    }

    public var url: String { "http://\(name).in-process.invalid" }
    public var data: URL { configuration.dataDirectory }

    /// Whether transports reach the server; `false` plays a handheld with no coverage (every
    /// call fails with `unreachable`, as CurlTransport's does when nothing answers).
    public var isReachable: Bool { reachable.load(ordering: .relaxed) }
    public func setReachable(_ value: Bool) { reachable.store(value, ordering: .relaxed) }

    public func addDevice(_ name: String, role: DeviceRole = .butler, zones: [String] = ["east-3"]) async throws -> String {
        try await DeviceRegistry(storage: storage).add(name: name, role: role, zones: zones.map { try Zone($0) })
    }

    public func revokeDevice(_ name: String) async throws {
        try await DeviceRegistry(storage: storage).revoke(name: name)
    }

    public func transport(token: String) -> any SyncTransport { InProcessTransport(server: self, token: token) }
}
