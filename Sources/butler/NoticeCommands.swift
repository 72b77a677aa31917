import ArgumentParser
import ButlerClient
import ButlerModel
import Foundation

/// `butler notice new|resolve|verify|show|list`: rectification notices (问题整改通知单, 001 §4.3.1.1).
///
/// A notice is named `<form id>/<notice id>` (what `notice new` prints), so no command needs the
/// form id beside it; a bare notice id works too when only one form on the handheld has it.
struct NoticeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notice",
        abstract: "Rectification notices (问题整改通知单): a defect sent to a responsible party with a deadline and photo evidence.",
        discussion: """
            A day's notice:
              butler form set $FORM hygiene --result defect --note "楼道堆放垃圾"
              N=$(butler notice new $FORM hygiene --party cleaning --due 2026-11-25 --note "清理3F楼道杂物")
              butler photo add IMG_0415.jpg --notice $N --stage before
              butler sync
              … the cleaning contractor reports it done:
              butler photo add IMG_0533.jpg --notice $N --stage after
              butler notice resolve $N --note "已清理"
              … the supervisor checks it: butler notice verify $N
            A notice still open after its deadline is an escalation for the supervisor, its photos listed as evidence.
            """,
        subcommands: [New.self, Resolve.self, Verify.self, Show.self, List.self])

    /// The instant notices are judged overdue at: now, or the hidden `--now` (for tests and for
    /// looking ahead; it changes nothing stored).
    static func instant(_ text: String?) throws -> Date {
        try CLI.parseDate(text) ?? Date()
    }

    /// One notice in text: its reference (the form part short, from `short`), party, item, due
    /// time (estate local), status.
    static func line(_ form: InspectionForm, _ notice: RectificationNotice, now: Date, calendar: EstateCalendar, short: [RecordID: String]) -> String {
        let ref = "\(CLI.short(form.id, short))/\(notice.id)"
        let due = notice.deadline.map { CLI.localTime($0, calendar) } ?? "?"
        let overdue = notice.isOverdue(now: now) ? "  OVERDUE" : ""
        return "\(ref)\t\(notice.party?.rawValue ?? "?")\t\(notice.item ?? "?")\tdue \(due)\t\(notice.status.rawValue)\(overdue)\t\(form.place ?? "")"
    }

    struct New: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Raise a rectification notice from a defect on a form's checklist item; prints the notice's id alone on stdout.",
            discussion: """
                The item must be recorded as a defect on the form (`butler form set … --result defect`), and the form \
                must still be a draft. --due is a day (yyyy-MM-dd: the notice is due by the end of that day in the \
                estate's time zone, UTC+8) or a full ISO 8601 time; a deadline already past is refused. The id printed \
                is <form id>/<notice id>: every notice command and `butler photo add --notice` take it.

                Example:
                  N=$(butler notice new $FORM hygiene --party cleaning --due 2026-11-25 --note "清理3F楼道杂物")
                """)
        @OptionGroup var home: HomeOptions
        @Argument(help: "The form id.") var form: String
        @Argument(help: "The checklist item recorded as a defect.") var item: String
        @Option(help: "Who must rectify it: cleaning, greening, engineering, security or other.") var party: String
        @Option(help: "The deadline: yyyy-MM-dd (end of that day) or an ISO 8601 time.") var due: String
        @Option(help: "What must be done.") var note: String?

        func run() async throws {
            guard let party = ResponsibleParty(rawValue: party) else {
                throw ValidationError("--party must be one of \(ResponsibleParty.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let store = try home.open()
            let deadline = try store.noticeDeadline(due)
            print(try store.raiseNotice(form: CLI.recordID(form, .inspectionForm, in: store), item: item, party: party, description: note, deadline: deadline).description)
        }
    }

    struct Resolve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record that the party has rectified the defect (open → rectified), with an optional note.",
            discussion: """
                Attach the after photo as evidence with `butler photo add FILE --notice N --stage after`. A supervisor \
                then verifies it (`butler notice verify`). A notice never goes back.

                Example:
                  butler notice resolve $N --note "已清理"
                """)
        @OptionGroup var home: HomeOptions
        @Argument(help: "The notice (<form id>/<notice id>).") var notice: String
        @Option(help: "A note on the rectification.") var note: String?

        func run() async throws {
            let store = try home.open()
            try store.resolveNotice(CLI.noticeReference(notice, in: store), note: note)
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a rectification on site (supervisors): the notice is closed as verified.",
            discussion: """
                Only a supervisor's handheld verifies; a butler's is refused at once (and the server refuses a \
                verification pushed by a butler's device).

                Example:
                  butler notice verify $N --note "现场复核合格"
                """)
        @OptionGroup var home: HomeOptions
        @Argument(help: "The notice (<form id>/<notice id>).") var notice: String
        @Option(help: "A note on the check.") var note: String?

        func run() async throws {
            let store = try home.open()
            try store.verifyNotice(CLI.noticeReference(notice, in: store), note: note)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a notice: party, item, deadline, status, whether it is overdue, its evidence photos and notes.",
            discussion: "Examples:\n  butler notice show $N\n  butler notice show $N --json")
        @OptionGroup var home: HomeOptions
        @Argument(help: "The notice (<form id>/<notice id>).") var notice: String
        @Flag(help: "Print JSON: the notice with ref, form, zone, place, overdue, photos [{sha256, stage}] and notes.") var json = false
        @Option(help: ArgumentHelp("Judge overdue at this time instead of now (ISO 8601).", visibility: .hidden)) var now: String?

        func run() async throws {
            let at = try NoticeCommand.instant(now)
            let store = try home.open()
            let (form, notice) = try store.notice(CLI.noticeReference(notice, in: store))
            if json {
                CLI.print(notice.jsonValue(in: form, now: at))
                return
            }
            let calendar = try store.estateCalendar()
            print(NoticeCommand.line(form, notice, now: at, calendar: calendar, short: [:]))
            if let description = notice.description { print("  \(description)") }
            if let issued = notice.issuedAt { print("  issued \(CLI.localTime(issued, calendar))") }
            for photo in notice.photos { print("  photo \(photo.stage.rawValue) \(photo.sha256)") }
            for note in notice.notes { print("  note — \(note.author): \(note.text)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the rectification notices on this handheld, soonest deadline first.",
            discussion: """
                --open keeps the notices not yet rectified; --overdue those past their deadline and still open (the \
                ones escalated to the supervisor, with their evidence).

                Examples:
                  butler notice list --open
                  butler notice list --overdue --json
                """)
        @OptionGroup var home: HomeOptions
        @Option(help: "Only this zone.") var zone: String?
        @Flag(help: "Only notices still open.") var open = false
        @Flag(help: "Only notices past their deadline and still open.") var overdue = false
        @Flag(help: "Print a JSON array (the shape of `notice show --json`).") var json = false
        @Option(help: ArgumentHelp("Judge overdue at this time instead of now (ISO 8601).", visibility: .hidden)) var now: String?

        func run() async throws {
            let at = try NoticeCommand.instant(now)
            let zone = try self.zone.map(CLI.zone)
            let store = try home.open()
            let notices = try store.notices().filter { form, notice in
                (zone == nil || form.zone == zone) && (!open || notice.status == .open) && (!overdue || notice.isOverdue(now: at))
            }
            if json {
                CLI.print(.array(notices.map { $0.notice.jsonValue(in: $0.form, now: at) }))
                return
            }
            let (calendar, short) = (try store.estateCalendar(), try store.shortIDs(of: .inspectionForm))
            for (form, notice) in notices { print(NoticeCommand.line(form, notice, now: at, calendar: calendar, short: short)) }
        }
    }
}
