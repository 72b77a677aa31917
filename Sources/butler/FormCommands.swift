import ArgumentParser
import ButlerClient
import ButlerModel
import Foundation

struct FormCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "form",
        abstract: "Inspection forms (巡查登记表): open one from a template, record results, notes, submit.",
        subcommands: [New.self, Set.self, Note.self, Submit.self, Show.self, List.self, Review.self, Close.self, Reopen.self])

    struct New: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a draft form; prints the new form's id alone on stdout.",
            discussion: """
                Templates: building-patrol (楼宇巡查), public-area (公区巡查), cleaning-greening (保洁、绿化巡查), \
                renovation (装修巡查), vacant-unit (空置房巡查), incident (突发事件登记).

                Example:
                  FORM=$(butler form new --template building-patrol --zone east-3 --place "3号楼2单元 楼梯间")
                """)
        @OptionGroup var home: HomeOptions
        @Option(help: "The template id.") var template: String
        @Option(help: "The zone (片区) the place belongs to.") var zone: String
        @Option(help: "Where the patrol is.") var place: String

        func run() async throws {
            let store = try home.open()
            print(try store.createForm(template: template, zone: CLI.zone(zone), place: place).rawValue)
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a checklist item's result, optionally with a note.",
            discussion: """
                A defect is never erased by someone else's concurrent "ok": it stays until someone who has seen it \
                records a new result.

                Examples:
                  butler form set $FORM stairwell-lights --result defect --note "3F 走廊灯不亮"
                  butler form set $FORM fire-extinguisher --result ok
                  butler form set $FORM elevator-running --result na
                """)
        @OptionGroup var home: HomeOptions
        @Argument(help: "The form id.") var form: String
        @Argument(help: "The checklist item key (see `butler form show`).") var item: String
        @Option(help: "ok, defect or na.") var result: String
        @Option(help: "A note for the item.") var note: String?

        func run() async throws {
            guard let result = ChecklistResult(rawValue: result) else { throw ValidationError("--result must be ok, defect or na") }
            let store = try home.open()
            try store.setResult(form: CLI.recordID(form, .inspectionForm, in: store), item: item, result: result, note: note)
        }
    }

    struct Note: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a note to the whole form.",
            discussion: "Example:\n  butler form note $FORM \"住户反映夜间楼道灯常灭\"")
        @OptionGroup var home: HomeOptions
        @Argument(help: "The form id.") var form: String
        @Argument(help: "The note.") var text: String

        func run() async throws {
            let store = try home.open()
            try store.addNote(form: CLI.recordID(form, .inspectionForm, in: store), text: text)
        }
    }

    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Submit the form for the supervisor's review; it can no longer be edited here.",
            discussion: "Example:\n  butler form submit $FORM")
        @OptionGroup var home: HomeOptions
        @Argument(help: "The form id.") var form: String

        func run() async throws {
            let store = try home.open()
            try store.submit(form: CLI.recordID(form, .inspectionForm, in: store))
        }
    }

    struct Review: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Review a submitted form (supervisors), with an optional review note.",
            discussion: """
                Edits made on other devices while the form was being submitted are listed as late edits in \
                `butler conflicts`; a review made after syncing them clears the flag. The server accepts reviews \
                only from supervisor devices.

                Example:
                  butler form review $FORM --note "灯具已报修，派工单已建"
                """)
        @OptionGroup var home: HomeOptions
        @Argument(help: "The form id.") var form: String
        @Option(help: "A review note.") var note: String?

        func run() async throws {
            let store = try home.open()
            try store.review(form: CLI.recordID(form, .inspectionForm, in: store), note: note)
        }
    }

    struct Close: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Close a reviewed form (supervisors).",
            discussion: "Example:\n  butler form close $FORM")
        @OptionGroup var home: HomeOptions
        @Argument(help: "The form id.") var form: String

        func run() async throws {
            let store = try home.open()
            try store.close(form: CLI.recordID(form, .inspectionForm, in: store))
        }
    }

    struct Reopen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reopen a submitted, reviewed or closed form: a new round starts as a draft.",
            discussion: "Example:\n  butler form reopen $FORM")
        @OptionGroup var home: HomeOptions
        @Argument(help: "The form id.") var form: String

        func run() async throws {
            let store = try home.open()
            try store.reopen(form: CLI.recordID(form, .inspectionForm, in: store))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a form: items, notes, photos and any conflicts with the rule that resolved them.",
            discussion: "Examples:\n  butler form show $FORM\n  butler form show $FORM --json")
        @OptionGroup var home: HomeOptions
        @Argument(help: "The form id.") var form: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try home.open()
            let view = try store.form(CLI.recordID(form, .inspectionForm, in: store))
            if json {
                CLI.print(view.jsonValue)
                return
            }
            let calendar = try store.estateCalendar()
            let template = view.template.flatMap { try? TemplateCatalog.bundled().template($0) }
            print("\(view.id)  \(template?.title ?? view.template ?? "?")  \(view.place ?? "")")
            print("zone \(view.zone)  status \(view.status.state.rawValue) (round \(view.status.round))  by \(view.butler ?? "?")")
            let keys = (template?.items.map(\.key) ?? []).filter { view.items[$0] != nil } + view.items.keys.sorted().filter { key in template?.item(key) == nil }
            for key in keys {
                let item = view.items[key]!
                let label = template?.item(key)?.label ?? ""
                print("  \(key) \(label): \(item.result?.rawValue ?? "-")")
                for note in item.notes { print("      \(note.author): \(note.text)") }
                for photo in item.photos { print("      photo \(photo.prefix(12))…") }
            }
            for note in view.notes { print("  note — \(note.author): \(note.text)") }
            for note in view.reviewNotes { print("  review — \(note.author): \(note.text)") }
            for notice in view.notices {
                let evidence = notice.photos.isEmpty ? "" : "  (\(notice.photos.count) photo(s))"
                print("  rectification \(notice.id) → \(notice.party?.rawValue ?? "?") by \(notice.deadline.map { CLI.localTime($0, calendar) } ?? "?"): \(notice.status.rawValue)\(evidence)")
            }
            for conflict in view.conflicts { print("  conflict \(conflict.field) [\(conflict.rule.rawValue)]: \(conflict.explanation)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the forms on this handheld.",
            discussion: "Examples:\n  butler form list\n  butler form list --json")
        @OptionGroup var home: HomeOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let store = try home.open()
            let forms = try store.forms()
            if json {
                CLI.print(.array(forms.map { form in
                    [
                        "id": .string(form.id.rawValue), "template": form.template.map(JSONValue.string) ?? .null,
                        "zone": .string(form.zone.rawValue), "place": form.place.map(JSONValue.string) ?? .null,
                        "status": .string(form.status.state.rawValue),
                    ]
                }))
                return
            }
            let short = try store.shortIDs(of: .inspectionForm)
            for form in forms {
                let conflicts = form.conflicts.isEmpty ? "" : "  \(form.conflicts.count) conflict(s)"
                print("\(CLI.short(form.id, short))\t\(form.template ?? "?")\t\(form.zone)\t\(form.status.state.rawValue)\t\(form.place ?? "")\(conflicts)")
            }
        }
    }
}

struct PhotoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "photo",
        abstract: "Photos as evidence (拍照取证).",
        subcommands: [Add.self, Detach.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Attach a photo to a form (or one of its items), or to a rectification notice; prints the photo's sha256 alone on stdout.",
            discussion: """
                The file is copied into the handheld's photo store under its SHA-256; the same picture added twice \
                is stored once. It uploads on the next `butler sync`, resuming where a cut-off upload stopped.

                With --notice the photo is evidence for a rectification notice (the form id is then not needed): \
                --stage before (the default) shows the defect, --stage after the rectification. Evidence can be \
                added whatever the form's status, since a notice is followed up after the form is submitted.

                Examples:
                  butler photo add $FORM IMG_0412.jpg --item stairwell-lights --caption "3F 走廊"
                  butler photo add IMG_0533.jpg --notice $N --stage after
                """)
        @OptionGroup var home: HomeOptions
        @Argument(help: "The form id (not needed with --notice).") var form: String?
        @Argument(help: "The photo file.") var file: String?
        @Option(help: "The checklist item it shows.") var item: String?
        @Option(help: "A caption.") var caption: String?
        @Option(help: "The rectification notice it is evidence for (<form id>/<notice id>).") var notice: String?
        @Option(help: "With --notice: before (the defect; the default) or after (the rectification).") var stage: String?

        func run() async throws {
            guard let notice else {
                guard stage == nil else { throw ValidationError("--stage goes with --notice") }
                guard let form, let file else { throw ValidationError("give the form id and the photo file: butler photo add FORM FILE") }
                let store = try home.open()
                let sha = try store.attachPhoto(
                    form: CLI.recordID(form, .inspectionForm, in: store), file: URL(fileURLWithPath: file), item: item, caption: caption)
                print(sha)
                return
            }
            guard item == nil else { throw ValidationError("--item and --notice do not go together: a notice's photos belong to the notice") }
            let store = try home.open()
            let (reference, file) = try PhotoCommand.noticeTarget(notice, form: form, other: self.file, in: store)
            let sha = try store.attachPhoto(
                notice: reference, file: URL(fileURLWithPath: file), stage: try PhotoCommand.stage(stage) ?? .before, caption: caption)
            print(sha)
        }
    }

    struct Detach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Detach a photo from a form (or from one of its items), or from a rectification notice.",
            discussion: """
                Without --item the photo leaves every item that shows it. The photo itself stays in the handheld's \
                store and on the server. If a colleague attaches the same photo while you detach it, offline, the \
                photo stays: evidence is never dropped by a race. A butler detaches only the photos this handheld \
                attached; a supervisor detaches any (the server refuses the rest, see `butler refused list`).
                With --notice the photo leaves the notice's evidence (only --stage's, or both stages).

                Examples:
                  butler photo detach $FORM 60b8bad3c9cd6d0ce79f33c04a174a92746a1011625325df17d44fce0f9f8baf --item stairwell-lights
                  butler photo detach 60b8bad3c9cd6d0ce79f33c04a174a92746a1011625325df17d44fce0f9f8baf --notice $N --stage before
                """)
        @OptionGroup var home: HomeOptions
        @Argument(help: "The form id (not needed with --notice).") var form: String?
        @Argument(help: "The photo's sha256 (as `butler photo add` printed it).") var sha256: String?
        @Option(help: "Only from this checklist item.") var item: String?
        @Option(help: "From this rectification notice's evidence (<form id>/<notice id>).") var notice: String?
        @Option(help: "With --notice: only from this stage (before or after).") var stage: String?

        func run() async throws {
            guard let notice else {
                guard stage == nil else { throw ValidationError("--stage goes with --notice") }
                guard let form, let sha256 else { throw ValidationError("give the form id and the photo's sha256: butler photo detach FORM SHA256") }
                let store = try home.open()
                try store.detachPhoto(form: CLI.recordID(form, .inspectionForm, in: store), sha256: sha256, item: item)
                return
            }
            guard item == nil else { throw ValidationError("--item and --notice do not go together") }
            let store = try home.open()
            let (reference, sha256) = try PhotoCommand.noticeTarget(notice, form: form, other: self.sha256, in: store)
            try store.detachPhoto(notice: reference, sha256: sha256, stage: try PhotoCommand.stage(stage))
        }
    }

    /// With `--notice`: the notice reference and the one other positional argument. A form id
    /// given too must be the notice's (then `--notice` may be the bare notice id). Form ids may be
    /// unique prefixes (``CLI/recordID(_:_:in:)``).
    static func noticeTarget(_ notice: String, form: String?, other: String?, in store: ClientStore) throws -> (reference: String, argument: String) {
        guard let form else { throw ValidationError("give the photo after the command: butler photo add|detach FILE-OR-SHA --notice NOTICE") }
        guard let other else { return (try CLI.noticeReference(notice, in: store), form) }
        let formID = try CLI.recordID(form, .inspectionForm, in: store)
        if notice.contains("/") {
            let reference = try CLI.noticeReference(notice, in: store)
            guard reference.hasPrefix(formID.rawValue + "/") else { throw ValidationError("notice \(notice) is not on form \(form)") }
            return (reference, other)
        }
        return ("\(formID)/\(notice)", other)
    }

    static func stage(_ text: String?) throws -> RectificationNotice.Stage? {
        guard let text else { return nil }
        guard let stage = RectificationNotice.Stage(rawValue: text) else { throw ValidationError("--stage must be before or after") }
        return stage
    }
}
