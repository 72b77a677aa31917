import ArgumentParser
import ButlerModel
import ButlerServer
import Foundation
import Logging
import Metrics
import Prometheus

@main
struct ButlerServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "butler-server",
        abstract: "The ButlerSync sync server: merges changes from every butler's handheld.",
        discussion: """
            With no configuration, `butler-server serve` listens on 127.0.0.1:8080 and keeps everything in \
            ./butler-data/ (one SQLite file and a blobs/ folder), created on first start.

            Register each handheld before it can sync; the token is printed once:
              butler-server device add --data ./butler-data --name li-handheld --role butler --zones east-3
            """,
        subcommands: [Serve.self, Device.self],
        defaultSubcommand: Serve.self)
}

/// Options every command that touches a data directory shares.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The data directory (env BUTLER_DATA).", valueName: "dir"))
    var data: String?
    @Option(name: .long, help: ArgumentHelp("Use PostgreSQL instead of the embedded SQLite file (env BUTLER_DATABASE_URL).", valueName: "postgres://…"))
    var databaseURL: String?
    @Option(name: .long, help: ArgumentHelp("The photo blob folder, shared by all nodes of one database (env BUTLER_BLOBS; default <data>/blobs).", valueName: "dir"))
    var blobs: String?

    func configuration() throws -> ServerConfiguration {
        var config = try ServerConfiguration.fromEnvironment()
        if let data { config.dataDirectory = URL(fileURLWithPath: data, isDirectory: true) }
        if let databaseURL { config.databaseURL = databaseURL }
        if let blobs { config.blobsOverride = URL(fileURLWithPath: blobs, isDirectory: true) }
        return config
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the sync server until SIGTERM or SIGINT.",
        discussion: """
            Stops gracefully: in-flight requests finish, each push either commits whole or not at all.
            Prints `butler-server listening on http://HOST:PORT` once it accepts connections (with --port 0 \
            the port the system chose).

            Examples:
              butler-server serve
              butler-server serve --data /var/lib/butler --host 0.0.0.0 --port 8080
            """)

    @OptionGroup var data: DataOptions
    @Option(help: ArgumentHelp("Address to listen on (env BUTLER_HOST).", valueName: "host")) var host: String?
    @Option(help: ArgumentHelp("Port to listen on, 0 for any (env BUTLER_PORT).", valueName: "port")) var port: Int?

    func run() async throws {
        var config = try data.configuration()
        if let host { config.host = host }
        if let port {
            guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
            config.port = port
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let host = config.host
        let settings = config
        try await ButlerServer.withStorage(settings) { storage, blobs in
            let app = ButlerServer.buildApplication(configuration: settings, storage: storage, blobs: blobs, metrics: registry) { port in
                // Written straight to the file descriptor: scripts wait for this line.
                FileHandle.standardOutput.write(Data("butler-server listening on http://\(host):\(port)\n".utf8))
            }
            try await app.runService()
        }
    }
}

struct Device: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register, revoke and list devices (works while the server runs).",
        subcommands: [Add.self, Revoke.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a device; prints its bearer token alone on stdout (shown only once).",
            discussion: """
                Examples:
                  butler-server device add --data ./butler-data --name li-handheld --role butler --zones east-3
                  butler-server device add --data ./butler-data --name zhou-tablet --role supervisor --zones east-3,east-4
                """)
        @OptionGroup var data: DataOptions
        @Option(help: "A unique device name.") var name: String
        @Option(help: "butler or supervisor.") var role: String
        @Option(help: ArgumentHelp("Comma-separated zones the device works in.", valueName: "z1[,z2]")) var zones: String

        func run() async throws {
            guard let role = DeviceRole(rawValue: role) else { throw ValidationError("--role must be butler or supervisor") }
            let zones = try zones.split(separator: ",").map { try Zone(String($0).trimmingCharacters(in: .whitespaces)) }
            let name = name
            let token = try await ButlerServer.withStorage(try data.configuration()) { storage, _ in
                try await DeviceRegistry(storage: storage).add(name: name, role: role, zones: zones)
            }
            print(token)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a device: its token is refused at once.",
            discussion: "Example:\n  butler-server device revoke --data ./butler-data li-handheld")
        @OptionGroup var data: DataOptions
        @Argument(help: "The device name.") var name: String

        func run() async throws {
            let name = name
            try await ButlerServer.withStorage(try data.configuration()) { storage, _ in
                try await DeviceRegistry(storage: storage).revoke(name: name)
            }
            FileHandle.standardError.write(Data("revoked \(name)\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List devices.",
            discussion: "Example:\n  butler-server device list --data ./butler-data --json")
        @OptionGroup var data: DataOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let devices = try await ButlerServer.withStorage(try data.configuration()) { storage, _ in
                try await DeviceRegistry(storage: storage).list()
            }
            if json {
                print(JSONValue.array(devices.map(\.jsonValue)).canonicalString)
            } else {
                for d in devices {
                    let state = d.revokedAt.map { "revoked \(Timestamp.format($0))" } ?? "active"
                    print("\(d.name)\t\(d.role.rawValue)\t\(d.zones.map(\.rawValue).joined(separator: ","))\t\(state)")
                }
            }
        }
    }
}
