import ArgumentParser
import ButlerClient
import Foundation
import Logging
import ServiceLifecycle

@main
struct ButlerSyncd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "butler-syncd",
        abstract: "Keep a handheld in sync in the background.",
        discussion: """
            While the server answers, it holds a live pull open between syncs (`GET /v1/pull?wait=`): a colleague's \
            change is stored the moment it commits, then a full sync follows (photos, anything queued); --no-live \
            (env BUTLER_LIVE=0) turns that off. Syncs every --interval seconds and at once on SIGUSR1 (`pkill -USR1 butler-syncd` after a patrol); \
            while the server is unreachable it backs off with jitter (up to 5 minutes). SIGTERM or SIGINT stop it \
            promptly, even mid-upload: the upload resumes from the server's byte count on the next start. Logs go \
            to stderr (level from BUTLER_LOG_LEVEL, default info). Exits 1 when a person must act (revoked or \
            unknown token, protocol version); run it under systemd with Samples/systemd/butler-syncd.service.

            Examples:
              butler-syncd --home /var/lib/butler --interval 120
              butler-syncd --max-upload-rate 200000      # leave room on a weak 4G link
              BUTLER_HOME=/var/lib/butler butler-syncd
              butler-syncd --no-live --interval 600        # poll only (a metered link)
            """)

    @Option(name: .long, help: ArgumentHelp("The device store (env BUTLER_HOME, default ~/.butler).", valueName: "dir"))
    var home: String?
    @Option(help: ArgumentHelp("Seconds between syncs.", valueName: "seconds")) var interval: Int = 300
    @Option(help: ArgumentHelp("Cap photo uploads at this many bytes per second (env BUTLER_MAX_UPLOAD_RATE; default: no cap).", valueName: "bytes"))
    var maxUploadRate: Int?
    @Flag(inversion: .prefixedNo, help: "Hold a live pull open between syncs (env BUTLER_LIVE=0 turns it off; default on).")
    var live: Bool?
    @Option(help: ArgumentHelp("Seconds one live pull waits before it is asked again, 1–60 (env BUTLER_LIVE_WAIT; default 25).", valueName: "seconds"))
    var liveWait: Int?

    func run() async throws {
        guard interval >= 1 else { throw ValidationError("--interval must be at least 1 second") }
        let environment = ProcessInfo.processInfo.environment
        let liveWait = try liveWait ?? environment["BUTLER_LIVE_WAIT"].map { text in
            guard let value = Int(text) else { throw ValidationError("BUTLER_LIVE_WAIT must be a number of seconds") }
            return value
        } ?? 25
        guard (1...60).contains(liveWait) else { throw ValidationError("--live-wait must be 1…60 seconds") }
        let live = self.live ?? (environment["BUTLER_LIVE"].map { !["0", "false", "no", "off"].contains($0.lowercased()) } ?? true)
        let configuration: ClientConfiguration
        do {
            configuration = try self.configuration()
        } catch let error as ClientError {
            FileHandle.standardError.write(Data("butler-syncd: \(error.code): \(error.message)\n".utf8))
            throw ExitCode(1)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = configuration.logLevel
            return handler
        }
        let logger = Logger(label: "butler.syncd")
        do {
            let store = try ClientStore.open(home: configuration.home, atRest: try configuration.atRestKey())
            let engine = try SyncEngine.forStore(store, maxUploadBytesPerSecond: configuration.maxUploadBytesPerSecond)
            var config = SyncDaemon.Configuration()
            config.interval = .seconds(interval)
            config.live = live
            config.liveWait = .seconds(liveWait)
            let daemon = SyncDaemon(engine: engine, configuration: config, logger: logger)
            let group = ServiceGroup(
                configuration: .init(services: [.init(service: daemon)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            logger.info("butler-syncd started", metadata: ["butler.home": "\(configuration.home.path)", "sync.interval": "\(interval)s", "sync.live": "\(live)"])
            try await group.run()
            logger.info("butler-syncd stopped")
        } catch let error as ClientError {
            FileHandle.standardError.write(Data("butler-syncd: \(error.code): \(error.message)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// The environment (``ClientConfiguration/fromEnvironment(_:defaults:)``) with the flags over it.
    func configuration() throws -> ClientConfiguration {
        var configuration = try ClientConfiguration.fromEnvironment()
        if let home { configuration.home = URL(fileURLWithPath: home, isDirectory: true) }
        // As before: 0 (or less) means no cap.
        if let maxUploadRate { configuration.maxUploadBytesPerSecond = maxUploadRate > 0 ? maxUploadRate : nil }
        return configuration
    }
}
