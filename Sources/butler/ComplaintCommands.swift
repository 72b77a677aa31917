import ArgumentParser
import ButlerClient
import ButlerModel
import Foundation

struct ComplaintCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "complaint",
        abstract: "Residents' complaints (投诉): file, fix, call back, approve.",
        discussion: """
            Levels (003 §3): major (重大), important (重要), minor (轻微). A major complaint must be fixed within \
            1 working day and called back within 1 week of the fix; the others within 3 working days and 2 weeks.
            Each handling round ends with the resident's verdict on a callback: an unsatisfied resident sends the \
            problem back to the front desk and a new round opens, and an "unsatisfied" is never hidden by a \
            concurrent "satisfied". The same problem unresolved after two rounds is a major complaint, whatever \
            it was filed as. The project manager's approval closes it.

            A complaint from start to close:
              CP=$(butler complaint new --zone east-3 --place "7号楼 502" --level minor --description "楼上漏水")
              butler complaint fix $CP --note "更换止水阀"
              butler complaint callback $CP --channel phone --reached yes --satisfaction satisfied
              butler complaint approve $CP          # on the project manager's device
            """,
        subcommands: [New.self, Fix.self, Callback.self, Approve.self, Show.self, List.self])

    struct New: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "File a complaint; prints its id alone on stdout.",
            discussion: "Example:\n  CP=$(butler complaint new --zone east-3 --place \"7号楼 502\" --level minor --description \"楼上漏水\")")
        @OptionGroup var home: HomeOptions
        @Option(help: "The zone.") var zone: String
        @Option(help: "Where the problem is.") var place: String
        @Option(help: "major, important or minor (003 §3).") var level: String
        @Option(help: "What the resident complains about.") var description: String
        @Option(help: "The resident profile it concerns (optional).") var resident: String?

        func run() async throws {
            guard let level = ComplaintLevel(rawValue: level) else {
                throw ValidationError("--level must be one of \(ComplaintLevel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let store = try home.open()
            let resident = try self.resident.map { try CLI.recordID($0, .resident, in: store).rawValue }
            print(try store.createComplaint(zone: CLI.zone(zone), place: place, level: level, description: description, resident: resident).rawValue)
        }
    }

    struct Fix: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record that the current round's problem is fixed (now, or --at); prints the fix's id.",
            discussion: "Example:\n  butler complaint fix $CP --note \"更换止水阀\"")
        @OptionGroup var home: HomeOptions
        @Argument(help: "The complaint id.") var id: String
        @Option(help: "When (ISO 8601; default now).") var at: String?
        @Option(help: "What was done.") var note: String?

        func run() async throws {
            let store = try home.open()
            print(try store.fixComplaint(CLI.recordID(id, .complaint, in: store), at: CLI.parseDate(at), note: note))
        }
    }

    struct Callback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Log a callback attempt on the current round (after its fix); prints the attempt's id.",
            discussion: """
                An unsatisfied resident ends the round unresolved and opens the next one; any unsatisfied callback \
                of a round wins over a satisfied one (rule unresolved-wins).

                Examples:
                  butler complaint callback $CP --channel phone --reached no
                  butler complaint callback $CP --channel visit --reached yes --satisfaction unsatisfied --note "仍在渗水"
                """)
        @OptionGroup var home: HomeOptions
        @Argument(help: "The complaint id.") var id: String
        @OptionGroup var attempt: AttemptOptions

        func run() async throws {
            let a = try attempt.parsed()
            let store = try home.open()
            print(try store.logComplaintCallback(
                CLI.recordID(id, .complaint, in: store), channel: a.channel, reached: a.reached, satisfaction: a.satisfaction, note: attempt.note, at: a.at))
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The project manager's approval: closes a resolved complaint (manager devices only).",
            discussion: """
                Allowed when the current round's callback found the resident satisfied, or failed to reach them \
                3 times. An approval raced by a concurrent "unsatisfied" does not close the complaint.

                Example:
                  butler complaint approve $CP --note "业主签字确认"
                """)
        @OptionGroup var home: HomeOptions
        @Argument(help: "The complaint id.") var id: String
        @Option(help: "A note.") var note: String?

        func run() async throws {
            let store = try home.open()
            try store.approveComplaint(CLI.recordID(id, .complaint, in: store), note: note)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a complaint: its rounds, fixes, callbacks, deadlines and escalation.",
            discussion: "Example:\n  butler complaint show $CP --json")
        @OptionGroup var home: HomeOptions
        @Argument(help: "The complaint id.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try home.open()
            let complaint = try store.complaint(CLI.recordID(id, .complaint, in: store))
            let calendar = try store.estateCalendar()
            if json {
                CLI.print(ComplaintCommand.view(complaint, calendar: calendar))
                return
            }
            print("\(complaint.id)  \(complaint.effectiveLevel?.rawValue ?? "?")\(complaint.isEscalated ? " (escalated, filed \(complaint.level?.rawValue ?? "?"))" : "")  \(complaint.status.rawValue)  \(complaint.place ?? "")")
            if let description = complaint.description { print("  \(description)") }
            for round in complaint.rounds {
                print("round \(round.number)  opened \(round.openedAt.map { CLI.localTime($0, calendar) } ?? "-")  fixed \(round.fixedAt.map { CLI.localTime($0, calendar) } ?? "-")  \(round.result?.rawValue ?? "pending")")
                for a in round.callbacks {
                    print("  \(CLI.localTime(a.at, calendar))  \(a.channel.rawValue)  \(a.reached ? "reached" : "not reached")  \(a.satisfaction?.rawValue ?? "")  \(a.author)  \(a.note ?? "")")
                }
            }
            if let due = Deadlines.fixDue(for: complaint, calendar: calendar), complaint.fixedAt == nil, complaint.closedAt == nil {
                print("fix due \(CLI.localTime(due, calendar))")
            }
            if let due = Deadlines.callbackDue(for: complaint), complaint.currentRound?.result == nil, complaint.closedAt == nil {
                print("callback due \(CLI.localTime(due, calendar))")
            }
            if complaint.awaitingApproval { print("waiting for the project manager's approval") }
            if let approval = complaint.approval {
                print("approved by \(approval.author) at \(CLI.localTime(approval.at, calendar)) (round \(approval.round))\(complaint.isApproved ? "" : " — stale: a later round is open")")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List complaints on this device: open ones first.",
            discussion: "Examples:\n  butler complaint list\n  butler complaint list --escalated --json")
        @OptionGroup var home: HomeOptions
        @Option(help: "Only this zone.") var zone: String?
        @Flag(help: "Only complaints not closed.") var open = false
        @Flag(help: "Only complaints escalated to major (unresolved after two rounds).") var escalated = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try home.open()
            let calendar = try store.estateCalendar()
            let complaints = try store.complaints(zone: zone.map(CLI.zone)).filter { c in
                (!open || c.status != .closed) && (!escalated || c.unresolvedRounds >= 2)
            }.sorted { ($0.status == .closed ? 1 : 0, $0.reportedAt ?? .distantPast) < ($1.status == .closed ? 1 : 0, $1.reportedAt ?? .distantPast) }
            if json {
                CLI.print(["complaints": .array(complaints.map { ComplaintCommand.view($0, calendar: calendar) })])
                return
            }
            let short = try store.shortIDs(of: .complaint)
            for c in complaints {
                let flag = c.unresolvedRounds >= 2 ? "  ESCALATED" : c.awaitingApproval ? "  awaiting approval" : ""
                print("\(CLI.short(c.id, short))  \(c.effectiveLevel?.rawValue ?? "?")  \(c.status.rawValue)  round \(c.currentRound?.number ?? 0)  \(c.place ?? "")\(flag)")
            }
        }
    }

    /// A complaint with the deadlines that apply now.
    static func view(_ complaint: Complaint, calendar: EstateCalendar) -> JSONValue {
        guard case .object(var o) = complaint.jsonValue else { return complaint.jsonValue }
        let open = complaint.closedAt == nil
        o["fixDue"] = open && complaint.fixedAt == nil ? Deadlines.fixDue(for: complaint, calendar: calendar).map { .string(Timestamp.format($0)) } ?? .null : .null
        o["callbackDue"] = open && complaint.currentRound?.result == nil ? Deadlines.callbackDue(for: complaint).map { .string(Timestamp.format($0)) } ?? .null : .null
        return .object(o)
    }
}

/// The options every callback attempt takes, for work orders and complaints alike.
struct AttemptOptions: ParsableArguments {
    @Option(help: "phone, visit, sms or email.") var channel: String
    @Option(help: "yes or no.") var reached: String
    @Option(help: "satisfied or unsatisfied (only when reached).") var satisfaction: String?
    @Option(help: "A note.") var note: String?
    @Option(help: "When it happened (ISO 8601; default now).") var at: String?

    func parsed() throws -> (channel: CallbackChannel, reached: Bool, satisfaction: Satisfaction?, at: Date?) {
        guard let channel = CallbackChannel(rawValue: channel) else { throw ValidationError("--channel must be phone, visit, sms or email") }
        guard reached == "yes" || reached == "no" else { throw ValidationError("--reached must be yes or no") }
        let satisfaction = try satisfaction.map { text -> Satisfaction in
            guard let s = Satisfaction(rawValue: text) else { throw ValidationError("--satisfaction must be satisfied or unsatisfied") }
            return s
        }
        return (channel, reached == "yes", satisfaction, try CLI.parseDate(at))
    }
}
