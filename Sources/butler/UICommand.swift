import ArgumentParser
import ButlerClient
import ButlerUI
import Foundation
import Logging

/// `butler ui`: the handheld page on 127.0.0.1, for the device's own browser.
struct UICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ui",
        abstract: "Serve the handheld page on 127.0.0.1 for the device's browser; prints its URL alone on stdout.",
        discussion: """
            The page works with no network at all: today's list (what is due, drafts), a new form from a template, \
            one large ok / defect / n/a control per checklist item, notes, photos from the camera, submit, callback \
            attempts, and a sync panel with a "sync now" button (the same sync as `butler sync`). It reads and writes \
            the same store as every other command: an edit is committed to disk before the page shows it.

            Listens on 127.0.0.1 only. Every form carries a secret made at start, and requests from other sites \
            or host names are refused, so other web pages in the browser cannot change anything. The first line of \
            stdout is the URL alone (http://127.0.0.1:PORT/); logs go to stderr. Serves until SIGTERM or SIGINT.
            --port 0 picks a free port; the default is BUTLER_UI_PORT, else 8765.

            Examples:
              butler ui                                  # then open http://127.0.0.1:8765/ on the handheld
              BUTLER_UI_PORT=9000 butler ui --home /var/lib/butler
              butler ui --port 0 | { read -r URL; chromium --kiosk "$URL"; }
            """)
    @OptionGroup var home: HomeOptions
    @Option(help: ArgumentHelp("The port on 127.0.0.1 (0: any free port; env BUTLER_UI_PORT, default 8765).", valueName: "port"))
    var port: Int?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let port = try port ?? environment["BUTLER_UI_PORT"].map { text in
            guard let value = Int(text) else { throw ValidationError("BUTLER_UI_PORT must be a port number") }
            return value
        } ?? ButlerUI.HandheldConfiguration.defaultPort
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
        let configuration = try home.configuration()
        let store = try home.open(configuration)
        // The page's log is worth reading at info (which page failed and why); BUTLER_LOG_LEVEL still rules.
        var logger = Logger(label: "butler.ui")
        if environment["BUTLER_LOG_LEVEL"] == nil { logger.logLevel = .info }
        let maxRate = configuration.maxUploadBytesPerSecond
        let app = try await buildHandheldApplication(
            store: store, configuration: .init(port: port), logger: logger,
            makeEngine: { try SyncEngine.forStore(store, maxUploadBytesPerSecond: maxRate) }
        ) { port in
            // Written straight to the file descriptor, alone on the line: scripts wait for it.
            FileHandle.standardOutput.write(Data("http://127.0.0.1:\(port)/\n".utf8))
        }
        try await app.runService()  // SIGTERM, SIGINT: graceful shutdown (swift-service-lifecycle)
    }
}
