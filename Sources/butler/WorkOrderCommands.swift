import ArgumentParser
import ButlerClient
import ButlerModel
import Foundation

struct WorkOrderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workorder",
        abstract: "Repair work orders (派工单): open, start, complete.",
        subcommands: [New.self, Start.self, Complete.self])

    struct New: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a work order; prints its id alone on stdout.",
            discussion: """
                Categories set the callback deadline: urgent-utility, neighbour, dangerous (24 h); leak (after the \
                first rainy day); general, major (2 days). A repair not started within 2 days escalates to the supervisor.

                Example:
                  WO=$(butler workorder new --zone east-3 --place "5号楼 301" --category leak --description "天花渗水")
                """)
        @OptionGroup var home: HomeOptions
        @Option(help: "The zone.") var zone: String
        @Option(help: "Where the repair is.") var place: String
        @Option(help: "urgent-utility, neighbour, dangerous, leak, general or major.") var category: String
        @Option(help: "What is wrong.") var description: String?

        func run() async throws {
            guard let category = RepairCategory(rawValue: category) else {
                throw ValidationError("--category must be one of \(RepairCategory.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            print(try home.open().createWorkOrder(zone: CLI.zone(zone), place: place, category: category, description: description).rawValue)
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record that work started (now, or --at).",
            discussion: "Example:\n  butler workorder start $WO --at 2026-11-23T14:30:00+08:00")
        @OptionGroup var home: HomeOptions
        @Argument(help: "The work order id.") var id: String
        @Option(help: "When (ISO 8601).") var at: String?

        func run() async throws {
            let store = try home.open()
            try store.startWorkOrder(CLI.recordID(id, .workOrder, in: store), at: CLI.parseDate(at))
        }
    }

    struct Complete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record that the repair is done (now, or --at); the callback clock starts.",
            discussion: "Example:\n  butler workorder complete $WO")
        @OptionGroup var home: HomeOptions
        @Argument(help: "The work order id.") var id: String
        @Option(help: "When (ISO 8601).") var at: String?

        func run() async throws {
            let store = try home.open()
            try store.completeWorkOrder(CLI.recordID(id, .workOrder, in: store), at: CLI.parseDate(at))
        }
    }
}

struct CallbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "callback",
        abstract: "Callbacks to residents after a repair (回访记录).",
        subcommands: [Log.self, Show.self, Close.self])

    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Log one callback attempt for a work order.",
            discussion: """
                Attempts from every device are kept; the outcome goes by when they happened, and an unsatisfied \
                resident wins a tie (verdicts within 10 minutes of each other). After 3 attempts that do not reach \
                the resident the callback may be closed. --at may not be before the repair's completion nor in the \
                future (10 minutes of clock slack).

                Examples:
                  butler callback log $WO --channel phone --reached no --note "无人接听"
                  butler callback log $WO --channel visit --reached yes --satisfaction satisfied --note "住户签字确认"
                """)
        @OptionGroup var home: HomeOptions
        @Argument(help: "The work order id.") var workorder: String
        @OptionGroup var attempt: AttemptOptions

        func run() async throws {
            let a = try attempt.parsed()
            let store = try home.open()
            try store.logCallback(
                workOrder: CLI.recordID(workorder, .workOrder, in: store), channel: a.channel, reached: a.reached, satisfaction: a.satisfaction, note: attempt.note,
                at: a.at)
        }
    }

    struct Close: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Close a work order's callback as unreachable after 3 attempts that did not reach the resident (003).",
            discussion: """
                A later attempt that reaches the resident still decides the outcome: a verdict outranks the closing.

                Example:
                  butler callback close $WO --unreachable --note "三次电话无人接听，已留言"
                """)
        @OptionGroup var home: HomeOptions
        @Argument(help: "The work order id.") var workorder: String
        @Flag(help: "The resident could not be reached (required: the one reason a callback is closed without a verdict).") var unreachable = false
        @Option(help: "A note.") var note: String?

        func run() async throws {
            guard unreachable else { throw ValidationError("say why: --unreachable (a callback closes without a verdict only when the resident cannot be reached)") }
            let store = try home.open()
            try store.closeCallbackUnreachable(workOrder: CLI.recordID(workorder, .workOrder, in: store), note: note)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a work order's callback attempts, outcome and due time.",
            discussion: """
                A completed leak repair's callback is due at the end of the first rain day recorded for its zone after \
                the day of completion (estate local time; `butler rain add`); until then it shows "waiting for rain" \
                (JSON: "due": null, "waitingFor": "rain").

                Example:
                  butler callback show $WO --json
                """)
        @OptionGroup var home: HomeOptions
        @Argument(help: "The work order id.") var workorder: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try home.open()
            let id = try CLI.recordID(workorder, .workOrder, in: store)
            let order = try store.workOrder(id)
            let record = try store.callbacks(workOrder: id)
            let calendar = try store.estateCalendar()
            let due = Deadlines.callbackDue(for: order, calendar: calendar)
            let waitsForRain = Deadlines.waitsForRain(order, calendar: calendar)
            let outcome = record?.outcome ?? .pending
            if json {
                var o: [String: JSONValue] = [
                    "workorder": .string(id.rawValue), "attempts": .array(record?.attempts.map(\.jsonValue) ?? []),
                    "outcome": .string(outcome.rawValue), "due": due.map { .string(Timestamp.format($0)) } ?? .null,
                    "explanation": .string(record?.outcomeExplanation ?? "No callback attempt yet."),
                ]
                if waitsForRain { o["waitingFor"] = "rain" }
                CLI.print(.object(o))
                return
            }
            print("\(id)  \(order.category?.rawValue ?? "?")  \(order.place ?? "")  \(order.status.rawValue)")
            print("callback due \(waitsForRain ? "waiting for rain" : due.map { CLI.localTime($0, calendar) } ?? "-")  outcome \(outcome.rawValue)")
            for a in record?.attempts ?? [] {
                print("  \(CLI.localTime(a.at, calendar))  \(a.channel.rawValue)  \(a.reached ? "reached" : "not reached")  \(a.satisfaction?.rawValue ?? "")  \(a.author)  \(a.note ?? "")")
            }
            if let record { print(record.outcomeExplanation) }
        }
    }
}
