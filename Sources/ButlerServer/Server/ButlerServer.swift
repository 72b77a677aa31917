import ButlerModel
import Foundation
import Hummingbird
import Logging
import Prometheus

/// Builds the sync server application: the same function serves `butler-server serve` and the
/// tests, so tests exercise exactly what runs.
///
/// ```swift
/// let storage = try await ButlerServer.openEmbedded(configuration)
/// let app = try ButlerServer.buildApplication(configuration: configuration, storage: storage.storage, blobs: storage.blobs)
/// try await app.runService()
/// ```
public enum ButlerServer {
    /// The embedded store in the data directory (created on first start): SQLite file + blob folder.
    public static func openEmbedded(_ configuration: ServerConfiguration) async throws -> (storage: SQLiteStorage, blobs: BlobStore) {
        try FileManager.default.createDirectory(at: configuration.dataDirectory, withIntermediateDirectories: true)
        let storage = try SQLiteStorage(path: configuration.sqliteURL.path)
        try await storage.migrate()
        let blobs = try BlobStore(directory: configuration.blobDirectory, maxBlobBytes: configuration.maxBlobBytes)
        return (storage, blobs)
    }

    /// Opens the configured store — PostgreSQL when ``ServerConfiguration/databaseURL`` is set, else
    /// the embedded SQLite file — migrates it, and runs `body` with it; a PostgreSQL pool runs for
    /// exactly as long as `body` does.
    public static func withStorage<T: Sendable>(
        _ configuration: ServerConfiguration, logger: Logger = Logger(label: "butler.server"),
        _ body: @Sendable @escaping (any SyncStorage, BlobStore) async throws -> T
    ) async throws -> T {
        guard let url = configuration.databaseURL else {
            let (storage, blobs) = try await openEmbedded(configuration)
            return try await body(storage, blobs)
        }
        try FileManager.default.createDirectory(at: configuration.blobDirectory, withIntermediateDirectories: true)
        let blobs = try BlobStore(directory: configuration.blobDirectory, maxBlobBytes: configuration.maxBlobBytes)
        let storage = try PostgresStorage(url: url, logger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await storage.run()
                return nil
            }
            group.addTask {
                try await storage.migrate()
                return try await body(storage, blobs)
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw CancellationError()
        }
    }

    /// The router with every route and middleware.
    public static func buildRouter(
        configuration: ServerConfiguration, storage: any SyncStorage, blobs: BlobStore, metrics: PrometheusCollectorRegistry? = nil
    ) -> Router<ButlerRequestContext> {
        let router = Router(context: ButlerRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: MetricsMiddleware())
        router.get("healthz") { _, _ in
            do { try await storage.health() } catch {
                throw APIError(.serviceUnavailable, .storageUnavailable, "the store does not answer")
            }
            return Response.json(["status": "ok"])
        }
        router.get("metrics") { _, _ in
            let text = metrics?.emitToString() ?? ""
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        let v1 = router.group("v1").add(middleware: DeviceAuthMiddleware(storage: storage))
        SyncRoutes(storage: storage, configuration: configuration).register(on: v1)
        BlobRoutes(storage: storage, blobs: blobs, configuration: configuration).register(on: v1)
        ViewRoutes(storage: storage, configuration: configuration).register(on: v1)
        RecordRoutes(storage: storage).register(on: v1)
        return router
    }

    /// The application: router, bind address, and a callback with the bound port (useful with port 0).
    public static func buildApplication(
        configuration: ServerConfiguration, storage: any SyncStorage, blobs: BlobStore, metrics: PrometheusCollectorRegistry? = nil,
        logger: Logger = Logger(label: "butler.server"), onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = buildRouter(configuration: configuration, storage: storage, blobs: blobs, metrics: metrics)
        var app = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(120))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "butler-server"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
        app.addServices(BlobSweeper(storage: storage, blobs: blobs, configuration: configuration, logger: logger))
        return app
    }
}
