import ButlerModel
import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

// Building the sync server: the same functions serve `butler-server serve`, its maintenance
// commands, the tests and the benchmark, so tests exercise exactly what runs.
//
// ```swift
// let app = try ButlerServer.buildApplication(configuration: try .fromEnvironment())
// try await app.runService()
// ```

/// The configured store, opened: the records (SQLite or PostgreSQL), the photo blob folder, and
/// the services that must run for as long as the store is used (PostgreSQL's connection pool).
public struct ServerStorage: Sendable {
    public let storage: any SyncStorage
    public let blobs: BlobStore
    /// Run these (as application services, or beside the work) while ``storage`` is used; empty
    /// for the embedded SQLite file.
    public let services: [any Service]

    public init(storage: any SyncStorage, blobs: BlobStore, services: [any Service] = []) {
        self.storage = storage
        self.blobs = blobs
        self.services = services
    }
}

/// Opens the configured store without migrating it: PostgreSQL when
/// ``ServerConfiguration/databaseURL`` is set (its pool is in ``ServerStorage/services``, not yet
/// running), else the embedded SQLite file in the data directory, created on first use.
public func openStorage(_ configuration: ServerConfiguration, logger: Logger = Logger(label: "butler.server")) throws -> ServerStorage {
    try FileManager.default.createDirectory(at: configuration.blobDirectory, withIntermediateDirectories: true)
    let blobs = try BlobStore(directory: configuration.blobDirectory, maxBlobBytes: configuration.maxBlobBytes, durability: configuration.durability)
    guard let url = configuration.databaseURL else {
        try FileManager.default.createDirectory(at: configuration.dataDirectory, withIntermediateDirectories: true)
        return ServerStorage(storage: try SQLiteStorage(path: configuration.sqliteURL.path, durability: configuration.durability), blobs: blobs)
    }
    let storage = try PostgresStorage(url: url, logger: logger)
    return ServerStorage(storage: storage, blobs: blobs, services: [storage])
}

/// Opens and migrates the configured store and runs `body` with it, its services running for
/// exactly as long as `body` does: what the maintenance commands (`device add`, `check`…) use.
public func withStorage<T: Sendable>(
    _ configuration: ServerConfiguration, logger: Logger = Logger(label: "butler.server"),
    _ body: @Sendable @escaping (any SyncStorage, BlobStore) async throws -> T
) async throws -> T {
    let opened = try openStorage(configuration, logger: logger)
    return try await withThrowingTaskGroup(of: T?.self) { group in
        for service in opened.services {
            group.addTask {
                try await service.run()
                return nil
            }
        }
        group.addTask {
            try await opened.storage.migrate()
            return try await body(opened.storage, opened.blobs)
        }
        defer { group.cancelAll() }
        while let result = try await group.next() {
            if let result { return result }
        }
        throw CancellationError()
    }
}

/// The router with every route and middleware. Authenticated routes (`/v1`) run with a
/// ``DeviceRequestContext``: the device is checked once, by ``DeviceAuthMiddleware``.
public func buildRouter(
    configuration: ServerConfiguration, storage: any SyncStorage, blobs: BlobStore, metrics: PrometheusCollectorRegistry? = nil
) -> Router<ButlerRequestContext> {
    let router = Router(context: ButlerRequestContext.self)
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: CompressionMiddleware(maxInflatedBytes: configuration.maxPushBytes))
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
    let console = storage as? any ConsoleStorage
    let v1 = router.group("v1")
        .add(middleware: DeviceAuthMiddleware(storage: storage, lastSeen: console.map { LastSeen(storage: $0) }, clock: configuration.clock))
        .group(context: DeviceRequestContext.self)
    SyncRoutes(storage: storage, configuration: configuration).register(on: v1)
    BlobRoutes(storage: storage, blobs: blobs, configuration: configuration).register(on: v1)
    ViewRoutes(storage: storage, configuration: configuration).register(on: v1)
    RecordRoutes(storage: storage).register(on: v1)
    IntegrityRoutes(storage: storage, configuration: configuration).register(on: v1)
    // The supervisor console (`Console/`): pages for people, signed in with their own cookie.
    if let console {
        do {
            let sessions = ConsoleSessions(storage: console, configuration: configuration.console, clock: configuration.clock)
            let pages = try ConsolePages.load(calendar: configuration.calendar)
            ConsoleRoutes(storage: storage, console: console, blobs: blobs, configuration: configuration, sessions: sessions, pages: pages)
                .register(on: router)
        } catch {
            Logger(label: "butler.server").error("the supervisor console is off: \(error)")
        }
    }
    return router
}

/// The whole server, owning its lifecycle: opens the configured store, runs PostgreSQL's pool as a
/// service, migrates before it accepts connections, and sweeps expired photos; on SIGTERM the
/// server drains its requests first and the pool closes after it (services stop in reverse order).
/// `onServerRunning` gets the bound port (useful with port 0).
public func buildApplication(
    configuration: ServerConfiguration, metrics: PrometheusCollectorRegistry? = nil, logger: Logger = Logger(label: "butler.server"),
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let opened = try openStorage(configuration, logger: logger)
    var app = application(
        configuration: configuration, storage: opened.storage, blobs: opened.blobs, metrics: metrics, logger: logger,
        onServerRunning: onServerRunning)
    // Services start in order and stop in reverse: the pool outlives the HTTP server's drain.
    app.addServices(opened.services)
    // The sweeper starts once the tables it reads exist: it waits for the stream to finish (or for
    // cancellation, when the migration fails and the application stops).
    let (migrated, migrationDone) = AsyncStream<Never>.makeStream()
    app.addServices(
        BlobSweeper(
            storage: opened.storage, blobs: opened.blobs, configuration: configuration, logger: logger,
            ready: { for await _ in migrated {} }))
    app.beforeServerStarts {
        try await opened.storage.migrate()
        migrationDone.finish()
    }
    return app
}

/// The server over a store the caller opened, migrated and keeps running (tests, benchmarks).
public func buildApplication(
    configuration: ServerConfiguration, storage: any SyncStorage, blobs: BlobStore, metrics: PrometheusCollectorRegistry? = nil,
    logger: Logger = Logger(label: "butler.server"), onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    var app = application(
        configuration: configuration, storage: storage, blobs: blobs, metrics: metrics, logger: logger, onServerRunning: onServerRunning)
    app.addServices(BlobSweeper(storage: storage, blobs: blobs, configuration: configuration, logger: logger))
    return app
}

func application(
    configuration: ServerConfiguration, storage: any SyncStorage, blobs: BlobStore, metrics: PrometheusCollectorRegistry?, logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void
) -> Application<RouterResponder<ButlerRequestContext>> {
    Application(
        router: buildRouter(configuration: configuration, storage: storage, blobs: blobs, metrics: metrics),
        server: .http1(configuration: .init(idleTimeout: .seconds(120))),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "butler-server"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger)
}
