import ArgumentParser
import ButlerClient
import ButlerModel
import Foundation

/// `butler today`: a butler's morning — what is due or overdue in this device's zones.
struct TodayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "today",
        abstract: "What is due or overdue in this handheld's zones, soonest first: callbacks, repairs to start, notices, complaints, drafts.",
        discussion: """
            Computed from what this handheld holds, so it works offline (sync first to see everyone's work). \
            Dated entries come soonest first, overdue ones marked OVERDUE: callbacks after repairs (24 h, 2 days, \
            or after the first rain day for a leak), repairs not started within 2 days of being reported, \
            rectification notices, complaint fix deadlines (1 or 3 working days) and callbacks (1 or 2 weeks). \
            Then the undated: complaints escalated to major, leak callbacks waiting for rain, forms still in draft. \
            An entry is overdue exactly when the supervisor sees it as an escalation. Times are the estate's local \
            time; ids are short (any unique prefix of an id works in every command).

            --json prints {"now", "zones", "items": [{"kind", "record", "notice", "zone", "place", "what", "due", \
            "overdue", "escalation", "waitingFor", "since"}]}, with full ids and ISO 8601 UTC times.

            Examples:
              butler today
              butler today --zone east-3 --json
            """)
    @OptionGroup var home: HomeOptions
    @Option(help: "Only this zone (default: every zone of this handheld).") var zone: String?
    @Flag(help: "Print JSON.") var json = false
    @Option(help: ArgumentHelp("Draw the agenda up at this time instead of now (ISO 8601).", visibility: .hidden)) var now: String?

    func run() async throws {
        let store = try home.open()
        let agenda = try store.agenda(at: CLI.parseDate(now), zone: zone.map(CLI.zone))
        if json {
            CLI.print(agenda.jsonValue)
            return
        }
        let calendar = try store.estateCalendar()
        let short = try store.shortIDs(of: .inspectionForm, .workOrder, .complaint)
        let zones = agenda.zones.map { $0.sorted().map(\.rawValue).joined(separator: ", ") } ?? "every zone"
        let overdue = agenda.items.filter(\.overdue).count
        print("\(CLI.localTime(agenda.now, calendar))  \(zones): \(agenda.items.count) item(s), \(overdue) overdue")
        for item in agenda.items {
            let due = item.due.map { CLI.localTime($0, calendar) } ?? (item.waitingFor.map { "waiting for \($0)" } ?? "-")
            let flag = item.overdue ? "OVERDUE" : item.escalation == .complaintEscalated ? "ESCALATED" : ""
            let id = CLI.short(item.record, short) + (item.notice.map { "/\($0.notice)" } ?? "")
            let since = item.kind == .draft ? item.since.map { " (opened \(CLI.localTime($0, calendar)))" } ?? "" : ""
            let place = item.place.map { " — \($0)" } ?? ""
            print(
                [due.padding(toLength: 23, withPad: " ", startingAt: 0), flag.padding(toLength: 9, withPad: " ", startingAt: 0),
                 item.kind.rawValue.padding(toLength: 19, withPad: " ", startingAt: 0), id, "\(item.what)\(place)\(since)"].joined(separator: " "))
        }
    }
}
