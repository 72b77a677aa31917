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
        subcommands: [Serve.self, Device.self, ConsoleUserCommand.self, Audit.self, Check.self, Blobs.self],
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

            The estate's time zone (default +08:00) counts deadlines in local days, such as a leak repair's \
            callback after the first rainy day; it is served to every handheld at sync.

            Examples:
              butler-server serve
              butler-server serve --data /var/lib/butler --host 0.0.0.0 --port 8080
              butler-server serve --estate-utc-offset +07:00
            """)

    @OptionGroup var data: DataOptions
    @Option(help: ArgumentHelp("Address to listen on (env BUTLER_HOST).", valueName: "host")) var host: String?
    @Option(help: ArgumentHelp("Port to listen on, 0 for any (env BUTLER_PORT).", valueName: "port")) var port: Int?
    @Option(
        name: .customLong("estate-utc-offset"),
        help: ArgumentHelp("The estate's time zone, like +08:00; west of UTC as --estate-utc-offset=-05:00 (env BUTLER_ESTATE_UTC_OFFSET; default +08:00).", valueName: "±hh:mm"))
    var estateUTCOffset: String?
    @Option(
        name: .customLong("console-session-hours"),
        help: ArgumentHelp("How long a supervisor console sign-in lasts, however active (env BUTLER_CONSOLE_SESSION_HOURS; default 12).", valueName: "hours"))
    var consoleSessionHours: String?

    func run() async throws {
        var config = try data.configuration()
        if let consoleSessionHours {
            do { config.console.sessionLifetime = try ConsoleConfiguration.parseHours(consoleSessionHours, name: "--console-session-hours") } catch let error as ConfigurationError {
                throw ValidationError(error.message)
            }
        }
        if let host { config.host = host }
        if let port {
            guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
            config.port = port
        }
        if let estateUTCOffset {
            guard let seconds = try? EstateCalendar.parseUTCOffset(estateUTCOffset) else {
                throw ValidationError("--estate-utc-offset must be written like +08:00 or -05:30 (within ±14:00), got \"\(estateUTCOffset)\"")
            }
            config.calendar = EstateCalendar(utcOffsetSeconds: seconds, rainDays: config.calendar.rainDays)
        }
        let logLevel = config.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        raiseOpenFileLimit()
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let host = config.host
        // The application opens the store, runs PostgreSQL's pool as a service and migrates before
        // it listens; SIGTERM drains requests, then closes the pool.
        let app = try ButlerServer.buildApplication(configuration: config, metrics: registry) { port in
            // Written straight to the file descriptor: scripts wait for this line.
            FileHandle.standardOutput.write(Data("butler-server listening on http://\(host):\(port)\n".utf8))
        }
        try await app.runService()
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
                  butler-server device add --data ./butler-data --name chen-laptop --role manager --zones east-3,east-4

                A manager (项目经理) may do what a supervisor does, and approves (closes) complaints.
                """)
        @OptionGroup var data: DataOptions
        @Option(help: "A unique device name.") var name: String
        @Option(help: "butler, supervisor or manager.") var role: String
        @Option(help: ArgumentHelp("Comma-separated zones the device works in.", valueName: "z1[,z2]")) var zones: String

        func run() async throws {
            guard let role = DeviceRole(rawValue: role) else { throw ValidationError("--role must be butler, supervisor or manager") }
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
            let (devices, bindings, refusals) = try await ButlerServer.withStorage(try data.configuration()) { storage, _ in
                (try await DeviceRegistry(storage: storage).list(), try await storage.replicaBindings(), try await storage.pendingRefusals())
            }
            if json {
                print(JSONValue.array(devices.map { device in
                    var o = device.jsonValue.objectValue ?? [:]
                    o["replicas"] = .array(bindings.filter { $0.device == device.name }.map { .string($0.replica) })
                    o["pendingRefusals"] = .array(refusals.filter { $0.device == device.name }.map(\.jsonValue))
                    return .object(o)
                }).canonicalString)
            } else {
                for d in devices {
                    let state = d.revokedAt.map { "revoked \(Timestamp.format($0))" } ?? "active"
                    print("\(d.name)\t\(d.role.rawValue)\t\(d.zones.map(\.rawValue).joined(separator: ","))\t\(state)")
                }
            }
        }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The append-only, hash-chained log of every accepted edit: who changed what, when.",
        subcommands: [Show.self, Verify.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every accepted edit of one record, oldest first: seq, received at, device, replica, fields written.",
            discussion: """
                Examples:
                  butler-server audit show --data ./butler-data form-98a0e050-1c2d-4e5f-8a9b-0c1d2e3f4a5b
                  butler-server audit show --data ./butler-data --json form-98a0e050-1c2d-4e5f-8a9b-0c1d2e3f4a5b
                """)
        @OptionGroup var data: DataOptions
        @Flag(help: "Print a JSON array of entries (each with the delta as the device sent it).") var json = false
        @Argument(help: "The record id.") var record: String

        func run() async throws {
            let id = try RecordID(record)
            let entries = try await ButlerServer.withStorage(try data.configuration()) { storage, _ in
                try await StoreCheck.auditTrail(storage, record: id)
            }
            if json {
                print(JSONValue.array(entries.map(\.jsonValue)).canonicalString)
            } else {
                if entries.isEmpty { FileHandle.standardError.write(Data("no audited edits of \(id)\n".utf8)) }
                for entry in entries { print(entry.summary) }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every link of the audit log's hash chain; prints the head hash alone on stdout.",
            discussion: """
                Exits 0 and prints the newest entry's hash when the chain holds (keep it somewhere else: a log \
                cut short later no longer ends in it); exits 1 naming the first broken entry otherwise.

                Example:
                  butler-server audit verify --data ./butler-data
                """)
        @OptionGroup var data: DataOptions
        @Flag(help: "Print the result as JSON.") var json = false

        func run() async throws {
            let report = try await ButlerServer.withStorage(try data.configuration()) { storage, _ in
                try await StoreCheck.verifyAudit(storage)
            }
            if json { print(report.jsonValue.canonicalString) } else if report.problem == nil { print(report.head) }
            if let problem = report.problem {
                FileHandle.standardError.write(Data("butler-server: \(problem.code): \(problem.message)\n".utf8))
                throw ExitCode(1)
            }
            FileHandle.standardError.write(Data("audit log intact: \(report.entries) entries\n".utf8))
        }
    }
}

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify every stored record and the audit log; report, never repair.",
        discussion: """
            Each record must decode, be in canonical form, match its row, keep the id and size rules and its \
            schema, and equal the join of its deltas in the audit log. Exits 0 when all hold, 1 otherwise.

            Examples:
              butler-server check --data ./butler-data
              butler-server check --data ./butler-data --json
            """)
    @OptionGroup var data: DataOptions
    @Flag(help: "Print the result as JSON.") var json = false

    func run() async throws {
        let (records, audit) = try await ButlerServer.withStorage(try data.configuration()) { storage, _ in
            (try await StoreCheck.checkRecords(storage), try await StoreCheck.verifyAudit(storage))
        }
        let problems = records.problems + (audit.problem.map { [$0] } ?? [])
        if json {
            print(JSONValue.object([
                "records": .int(Int64(records.checked)), "problems": .array(problems.map(\.jsonValue)), "audit": audit.jsonValue,
            ]).canonicalString)
        } else {
            for problem in problems { print("\(problem.subject)\t\(problem.code)\t\(problem.message)") }
        }
        FileHandle.standardError.write(Data("checked \(records.checked) record(s) and \(audit.entries) audit entries: \(problems.count) problem(s)\n".utf8))
        if !problems.isEmpty { throw ExitCode(1) }
    }
}

struct Blobs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Photo blob housekeeping.",
        subcommands: [Sweep.self])

    struct Sweep: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete photos no record references and unfinished uploads older than the expiry (the server also does this hourly).",
            discussion: """
                The expiry is BUTLER_UNREFERENCED_BLOB_TTL_HOURS (default 168, 7 days).

                Example:
                  butler-server blobs sweep --data ./butler-data
                """)
        @OptionGroup var data: DataOptions

        func run() async throws {
            let settings = try data.configuration()
            let report = try await ButlerServer.withStorage(settings) { storage, blobs in
                try await BlobSweeper(storage: storage, blobs: blobs, configuration: settings).sweep(now: settings.clock.now())
            }
            print(JSONValue.object(["blobs": .int(Int64(report.blobs)), "bytes": .int(report.bytes), "partials": .int(Int64(report.partials))]).canonicalString)
        }
    }
}

/// Every live pull (`wait=`) holds a connection: a node serving thousands of online handhelds
/// needs more descriptors than the usual soft limit of 1024. Raised to the hard limit, as most
/// servers do at start; where that fails the server still runs, with the limit it was given.
func raiseOpenFileLimit() {
    var limit = rlimit()
    guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(RLIMIT_NOFILE_VALUE, &limit)
}

#if canImport(Glibc)
private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#else
private let RLIMIT_NOFILE_VALUE = RLIMIT_NOFILE
#endif

// MARK: The supervisor console's accounts (issue 16)

struct ConsoleUserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console-user",
        abstract: "Add, list and revoke supervisor console accounts (works while the server runs).",
        discussion: """
            Supervisors sign in to the console at http://HOST:PORT/console with a name and a password. A password \
            rather than a one-time sign-in link: supervisors sign in again and again from a shared tablet, and the \
            server has no mail or SMS channel to deliver a link. The password is read from standard input and kept \
            only as a salted scrypt hash (a random salt per user, the cost parameters stored beside it).
            """,
        subcommands: [Add.self, List.self, Revoke.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a supervisor's console account; the password is read from standard input.",
            discussion: """
                The first line of standard input is the password (at least 10 characters); nothing is printed on \
                stdout. Only its scrypt hash (swift-crypto's KDF.Scrypt, N=2^15, r=8, p=1, a random 16-byte salt) \
                is stored; a sign-in compares hashes in constant time.

                Example:
                  printf '%s\\n' 'correct horse battery' | butler-server console-user add --data ./butler-data --name zhou --zones east-3,east-4
                """)
        @OptionGroup var data: DataOptions
        @Option(help: "A unique console user name (letters, digits, '.', '_', '-').") var name: String
        @Option(help: ArgumentHelp("Comma-separated zones the supervisor oversees.", valueName: "z1[,z2]")) var zones: String

        func run() async throws {
            let zones = try zones.split(separator: ",").map { try Zone(String($0).trimmingCharacters(in: .whitespaces)) }
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw ValidationError("write the password on standard input, e.g. printf '%s\\n' 'the password' | butler-server console-user add …")
            }
            let (name, password) = (name, line)
            try await ButlerServer.withStorage(try data.configuration()) { storage, _ in
                try await ConsoleAccounts(storage: storage).add(name: name, zones: zones, password: password)
            }
            FileHandle.standardError.write(Data("added console user \(name)\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List console accounts (never their password hashes).",
            discussion: "Example:\n  butler-server console-user list --data ./butler-data --json")
        @OptionGroup var data: DataOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let users = try await ButlerServer.withStorage(try data.configuration()) { storage, _ in
                try await ConsoleAccounts(storage: storage).list()
            }
            if json {
                print(JSONValue.array(users.map(\.jsonValue)).canonicalString)
            } else {
                for user in users {
                    let state = user.revokedAt.map { "revoked \(Timestamp.format($0))" } ?? "active"
                    print("\(user.name)\t\(user.role.rawValue)\t\(user.zones.map(\.rawValue).joined(separator: ","))\t\(state)")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a console account: its sessions end at once and it can no longer sign in.",
            discussion: "Example:\n  butler-server console-user revoke --data ./butler-data --name zhou")
        @OptionGroup var data: DataOptions
        @Option(help: "The console user name.") var name: String

        func run() async throws {
            let name = name
            try await ButlerServer.withStorage(try data.configuration()) { storage, _ in
                try await ConsoleAccounts(storage: storage).revoke(name: name)
            }
            FileHandle.standardError.write(Data("revoked console user \(name)\n".utf8))
        }
    }
}
