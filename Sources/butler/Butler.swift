import ArgumentParser
import ButlerClient
import ButlerModel
import Foundation
import Logging

@main
struct Butler: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "butler",
        abstract: "The butler's handheld agent: patrol forms, photos, work orders and callbacks, offline; `butler sync` when in coverage.",
        discussion: """
            Every command but `sync` works with no network at all. Edits are durable the moment a command \
            returns; `butler sync` pushes them, uploads photos and pulls everyone else's changes.

            A morning patrol:
              butler init --server http://10.0.0.5:8080 --token bt_… --name 李管家
              butler today                   # what is due or overdue in my zones, soonest first
              FORM=$(butler form new --template building-patrol --zone east-3 --place "3号楼2单元 楼梯间")
              butler form set $FORM stairwell-lights --result defect --note "3F 走廊灯不亮"
              butler photo add $FORM IMG_0412.jpg --item stairwell-lights
              butler form submit $FORM
              butler sync

            Any command that takes a record id takes a unique prefix of it too, as git does \
            (`butler form show form-98a0e050`); an ambiguous prefix is refused with the candidates. Lists show \
            the shortest unique ids. Text output gives times in the estate's local time (2026-11-24 09:30 +08:00); \
            --json keeps full ids and ISO 8601 UTC times.
            The store lives in --home (env BUTLER_HOME, default ~/.butler); --home may stand before or after the subcommand.
            With BUTLER_KEY_FILE set (a key kept outside the store, e.g. on a credential store unlocked at login), \
            `butler init` creates an encrypted store: records and queued edits are sealed with AES-256-GCM.
            Log lines go to stderr from the level BUTLER_LOG_LEVEL names up (default warning).
            """,
        subcommands: [
            Init.self, FormCommand.self, PhotoCommand.self, WorkOrderCommand.self, CallbackCommand.self, ComplaintCommand.self, Sync.self, Status.self,
            Conflicts.self, RefusedCommand.self, TemplateCommand.self, NoticeCommand.self, RainCommand.self, Demo.self,
            ResidentCommand.self, VisitCommand.self, CoverageCommand.self, TodayCommand.self, Doctor.self, UICommand.self,
        ])

    /// `--home DIR` may come before the subcommand; ArgumentParser reads options on the leaf, so
    /// move it to the end of the arguments before parsing.
    static func normalized(_ arguments: [String]) -> [String] {
        var rest: [String] = []
        var home: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--home", index + 1 < arguments.count {
                home = [argument, arguments[index + 1]]
                index += 2
                continue
            }
            if argument.hasPrefix("--home=") {
                home = [argument]
            } else {
                rest.append(argument)
            }
            index += 1
        }
        return rest + home
    }

    /// `butler`'s defaults under the environment: a command's log stays quiet below warnings.
    static let defaults = ClientConfiguration(logLevel: .warning)

    static func main() async {
        let arguments = normalized(Array(CommandLine.arguments.dropFirst()))
        do {
            // Parsed first, so `--help` and usage errors answer whatever the environment holds.
            var command = try parseAsRoot(arguments)
            let logLevel = try ClientConfiguration.fromEnvironment(defaults: defaults).logLevel
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = logLevel
                return handler
            }
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ClientError {
            CLI.fail(error)
        } catch let error as ModelError {
            CLI.fail(ClientError(error))
        } catch {
            exit(withError: error)
        }
    }
}

/// The store location every command shares.
struct HomeOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The device store (env BUTLER_HOME, default ~/.butler).", valueName: "dir"))
    var home: String?

    /// The environment (``ClientConfiguration/fromEnvironment(_:defaults:)``) with `--home` over it.
    func configuration() throws -> ClientConfiguration {
        var configuration = try ClientConfiguration.fromEnvironment(defaults: Butler.defaults)
        if let home { configuration.home = URL(fileURLWithPath: home, isDirectory: true) }
        return configuration
    }

    /// Opens the store, which `butler init` must have set up; creates nothing otherwise.
    func open() throws -> ClientStore { try open(configuration()) }

    /// Opens the store `configuration` names, which `butler init` must have set up.
    func open(_ configuration: ClientConfiguration) throws -> ClientStore {
        let url = configuration.home
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent(ClientStore.databaseFileName).path) else {
            throw ClientError(.notInitialized, "no butler store in \(url.path): run `butler init --server URL --token TOKEN` first")
        }
        let store = try ClientStore.open(home: url, atRest: try configuration.atRestKey())
        guard try store.isInitialized() else {
            throw ClientError(.notInitialized, "the store in \(url.path) is not set up: run `butler init --server URL --token TOKEN` first")
        }
        return store
    }

    /// Opens or creates the store (for `butler init`). With `BUTLER_KEY_FILE` set, the store is
    /// encrypted at rest, and a missing key file is created (32 random bytes, mode 0600).
    func create() throws -> ClientStore {
        let configuration = try configuration()
        return try ClientStore.open(home: configuration.home, atRest: try configuration.atRestKey(creatingIfMissing: true))
    }
}

enum CLI {
    /// Prints the error as one line (`butler: CODE: message; what to do`) and exits non-zero.
    static func fail(_ error: ClientError) -> Never {
        let advice: String
        switch error.code {
        case .unreachable, .timeout: advice = " — nothing is lost; run `butler sync` again when in coverage"
        case .notInitialized: advice = ""
        case .unauthorized: advice = " — ask your supervisor for a new token and run `butler init` on a fresh --home"
        case .tokenRevoked: advice = " — this handheld was revoked; hand it in to your supervisor"
        case .protocolVersion: advice = " — update butler to the server's version"
        case .storageFull: advice = ""
        default: advice = ""
        }
        FileHandle.standardError.write(Data("butler: \(error.code): \(error.message)\(advice)\n".utf8))
        exit(error.isTransient ? 75 : 1)  // 75 = EX_TEMPFAIL: try again later
    }

    static func print(_ json: JSONValue) {
        Swift.print(json.canonicalString)
    }

    static func parseDate(_ text: String?) throws -> Date? {
        guard let text else { return nil }
        guard let date = Timestamp.parseLenient(text) else {
            throw ClientError(.invalidArgument, "\"\(text)\" is not an ISO 8601 time such as 2026-11-23T14:30:00+08:00")
        }
        return date
    }

    /// The record of `type` that `text` names: its id or a unique prefix of it, as git takes
    /// commits (``ClientStore/resolveID(_:type:)``). Every command that takes a record id comes here.
    static func recordID(_ text: String, _ type: RecordType, in store: ClientStore) throws -> RecordID {
        try store.resolveID(text, type: type)
    }

    /// A notice reference `<form id>/<notice id>` with the form part resolved like any form id
    /// (``recordID(_:_:in:)``); a bare notice id is passed on as it is.
    static func noticeReference(_ text: String, in store: ClientStore) throws -> String {
        guard let slash = text.firstIndex(of: "/") else { return text }
        let form = try recordID(String(text[..<slash]), .inspectionForm, in: store)
        return "\(form.rawValue)\(text[slash...])"
    }

    /// `yyyy-MM-dd HH:mm +08:00`: an instant in the estate's local time (``ClientStore/estateCalendar()``),
    /// how every text output shows times. JSON keeps ISO 8601 UTC.
    static func localTime(_ date: Date, _ calendar: EstateCalendar) -> String {
        let shifted = Timestamp.format(date.addingTimeInterval(TimeInterval(calendar.utcOffsetSeconds)))
        return "\(shifted.prefix(10)) \(shifted.dropFirst(11).prefix(5)) \(EstateCalendar.formatUTCOffset(calendar.utcOffsetSeconds))"
    }

    /// How lists show an id: its short form from `short` (``ClientStore/shortIDs(of:)``), else whole.
    static func short(_ id: RecordID, _ short: [RecordID: String]) -> String { short[id] ?? id.rawValue }

    static func zone(_ text: String) throws -> Zone { try Zone(text) }
}
