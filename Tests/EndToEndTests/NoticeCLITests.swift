import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// Rectification notices through the CLI against a real `butler-server` (001 §4.3.1.1, issue 13):
/// a butler raises a notice from a defect with a before photo, the supervisor sees it, it goes
/// overdue (judged at a later instant with the hidden `--now`, nothing sleeps) with its evidence
/// listed, the butler resolves it with an after photo and the supervisor verifies it.
@Suite("End to end: rectification notices", .serialized)
struct NoticeCLITests {
    static func trimmed(_ result: CommandResult) -> String { result.stdout.trimmingCharacters(in: .newlines) }

    @Test("a notice due tomorrow with a before photo goes overdue with its evidence, is resolved with an after photo and verified, on every device")
    func noticeLifecycle() async throws {
        let cluster = try await Cluster.processes("notice-cli")
        defer { cluster.terminate() }
        let (scratch, server) = (cluster.scratch, cluster.node)
        func device(_ name: String, role: DeviceRole, display: String) async throws -> @Sendable ([String]) async throws -> CommandResult {
            let token = try await server.addDevice(name, role: role, zones: ["east-3"])
            let home = scratch.path(name).path
            let run: @Sendable ([String]) async throws -> CommandResult = { args in try await runCommand("butler", ["--home", home] + args) }
            #expect(try await run(["init", "--server", server.url, "--token", token, "--name", display]).status == 0)
            return run
        }
        let li = try await device("li", role: .butler, display: "李管家")
        let zhou = try await device("zhou", role: .supervisor, display: "周主管")
        let wang = try await device("wang", role: .butler, display: "王管家")

        let form = Self.trimmed(try await li(["form", "new", "--template", "building-patrol", "--zone", "east-3", "--place", "3号楼2单元 楼梯间"]))
        #expect(try await li(["form", "set", form, "hygiene", "--result", "defect", "--note", "3F 楼道堆放垃圾"]).status == 0)
        #expect(try await li(["form", "set", form, "tiles", "--result", "ok"]).status == 0)

        // Tomorrow in the estate's time zone (UTC+8): due by the end of that day.
        let calendar = EstateCalendar()
        let tomorrow = EstateCalendar.Day(ordinal: calendar.day(of: Date()).ordinal + 1)
        let deadline = calendar.start(of: EstateCalendar.Day(ordinal: tomorrow.ordinal + 1))

        // Refusals: clear codes on stderr, nothing on stdout, nothing queued.
        let pending = try JSONParser.parse(try await li(["status", "--json"]).stdout)["pendingEdits"]
        let notDefect = try await li(["notice", "new", form, "tiles", "--party", "cleaning", "--due", tomorrow.description])
        #expect(notDefect.status == 1 && notDefect.stderr.contains("invalid-value") && notDefect.stderr.contains("defect") && notDefect.stdout.isEmpty)
        let unknownItem = try await li(["notice", "new", form, "sauna", "--party", "cleaning", "--due", tomorrow.description])
        #expect(unknownItem.status == 1 && unknownItem.stderr.contains("unknown-item"))
        let badParty = try await li(["notice", "new", form, "hygiene", "--party", "plumber", "--due", tomorrow.description])
        #expect(badParty.status != 0 && badParty.stderr.contains("--party must be one of cleaning, greening, engineering, security, other"))
        let past = try await li(["notice", "new", form, "hygiene", "--party", "cleaning", "--due", "2020-01-01"])
        #expect(past.status == 1 && past.stderr.contains("invalid-value") && past.stderr.contains("passed"))
        let badDue = try await li(["notice", "new", form, "hygiene", "--party", "cleaning", "--due", "next week"])
        #expect(badDue.status == 1 && badDue.stderr.contains("invalid-value"))
        #expect(try JSONParser.parse(try await li(["status", "--json"]).stdout)["pendingEdits"] == pending)

        // The notice, due tomorrow, with a before photo.
        let raised = try await li(["notice", "new", form, "hygiene", "--party", "cleaning", "--due", tomorrow.description, "--note", "清理3F楼道杂物"])
        #expect(raised.status == 0, "\(raised.stderr)")
        let notice = Self.trimmed(raised)
        #expect(raised.stdout.split(separator: "\n").count == 1, "the notice id alone on stdout")
        let ref = try RectificationNotice.Reference(notice)
        #expect(ref.form.rawValue == form)
        let beforeFile = try scratch.photo("IMG_0415.jpg", bytes: 60_000, seed: 41)
        let before = Self.trimmed(try await li(["photo", "add", beforeFile.path, "--notice", notice, "--stage", "before"]))
        #expect(Photo.isSHA256(before))
        let sync1 = try await li(["sync", "--quiet"])
        #expect(sync1.status == 0, "\(sync1.stderr)")

        // The supervisor's device sees it, not overdue yet.
        #expect(try await zhou(["sync", "--quiet"]).status == 0)
        let seen = try JSONParser.parse(try await zhou(["notice", "show", notice, "--json"]).stdout)
        #expect(seen["ref"] == .string(notice))
        #expect(seen["party"] == "cleaning" && seen["item"] == "hygiene" && seen["status"] == "open" && seen["description"] == "清理3F楼道杂物")
        #expect(seen["deadline"] == .string(Timestamp.format(deadline)), "the end of tomorrow in UTC+8")
        #expect(seen["overdue"] == false)
        #expect(seen["photos"] == [["sha256": .string(before), "stage": "before"]])
        #expect(try JSONParser.parse(try await zhou(["notice", "list", "--overdue", "--json"]).stdout) == [])

        // Time passes: judged a day after the deadline, it is overdue, its evidence listed.
        let later = Timestamp.format(deadline.addingTimeInterval(86_400))
        let overdue = try JSONParser.parse(try await zhou(["notice", "list", "--overdue", "--json", "--now", later]).stdout)
        #expect(overdue.arrayValue?.count == 1)
        let first = overdue.arrayValue?.first
        #expect(first?["ref"] == .string(notice) && first?["overdue"] == true)
        #expect(first?["photos"] == [["sha256": .string(before), "stage": "before"]])
        let text = try await zhou(["notice", "show", notice, "--now", later])
        #expect(text.status == 0 && text.stdout.contains("OVERDUE") && text.stdout.contains("photo before \(before)"))
        // The escalation view of the same records, as the server computes it.
        let escalation = try #require(Escalation.evaluate(
            try Self.records(scratch.path("zhou")), now: deadline.addingTimeInterval(86_400)).first { $0.kind == .rectificationOverdue })
        #expect(escalation.notice == ref && escalation.evidence == [.init(sha256: before, stage: .before)])

        // A colleague's device cannot take Li's evidence off: the server refuses, the photo stays.
        #expect(try await wang(["sync", "--quiet"]).status == 0)
        #expect(try await wang(["photo", "detach", before, "--notice", notice]).status == 0)
        _ = try await wang(["sync", "--quiet"])
        let refused = try JSONParser.parse(try await wang(["refused", "list", "--json"]).stdout)
        #expect(refused.arrayValue?.isEmpty == false && refused.arrayValue?.allSatisfy { $0["code"] == "role-forbidden" } == true)

        // The form is submitted; the follow-up goes on: the after photo, resolved.
        #expect(try await li(["form", "submit", form]).status == 0)
        let afterFile = try scratch.photo("IMG_0533.jpg", bytes: 50_000, seed: 42)
        let after = Self.trimmed(try await li(["photo", "add", afterFile.path, "--notice", notice, "--stage", "after"]))
        #expect(Photo.isSHA256(after))
        #expect(try await li(["notice", "resolve", notice, "--note", "已清理"]).status == 0)
        let butlerVerify = try await li(["notice", "verify", notice])
        #expect(butlerVerify.status == 1 && butlerVerify.stderr.contains("role-forbidden"))
        #expect(try await li(["sync", "--quiet"]).status == 0)

        #expect(try await zhou(["sync", "--quiet"]).status == 0)
        let resolved = try JSONParser.parse(try await zhou(["notice", "show", notice, "--json", "--now", later]).stdout)
        #expect(resolved["status"] == "rectified" && resolved["overdue"] == false)
        #expect(resolved["photos"] == [["sha256": .string(before), "stage": "before"], ["sha256": .string(after), "stage": "after"]])
        let note = resolved["notes"]?.arrayValue?.first
        #expect(note?["text"] == "已清理" && note?["author"] == "李管家")
        #expect(try JSONParser.parse(try await zhou(["notice", "list", "--overdue", "--json", "--now", later]).stdout) == [])
        let formView = try JSONParser.parse(try await zhou(["form", "show", ref.form.rawValue, "--json"]).stdout)
        #expect(formView["conflicts"] == [], "the follow-up after submission is not a late edit")

        #expect(try await zhou(["notice", "verify", notice, "--note", "现场复核合格"]).status == 0)
        #expect(try await zhou(["sync", "--quiet"]).status == 0)
        #expect(try await li(["sync", "--quiet"]).status == 0)
        let final = try JSONParser.parse(try await li(["notice", "show", notice, "--json"]).stdout)
        #expect(final["status"] == "verified")
        #expect(final == (try JSONParser.parse(try await zhou(["notice", "show", notice, "--json"]).stdout)), "the same on every device")
        // The bare notice id works when only one form has it.
        #expect(try await li(["notice", "show", ref.notice, "--json"]).stdout == (try await li(["notice", "show", notice, "--json"])).stdout)
        let list = try await li(["notice", "list", "--zone", "east-3"])
        #expect(list.stdout.contains("\(form.prefix(13))") && list.stdout.contains("/\(ref.notice)") && list.stdout.contains("verified"), "short ids in lists")
        #expect(try await li(["notice", "list", "--open", "--json"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        await cluster.stop()
    }

    @Test("--help reads on every notice command, with an example; the hidden --now stays out of it", arguments: [
        ["notice"], ["notice", "new"], ["notice", "resolve"], ["notice", "verify"], ["notice", "show"], ["notice", "list"], ["photo", "add"], ["photo", "detach"],
    ])
    func help(_ command: [String]) async throws {
        let result = try await runCommand("butler", command + ["--help"])
        #expect(result.status == 0 && result.stdout.contains("USAGE"))
        #expect(result.stdout.contains("butler notice") || result.stdout.contains("--notice"), "an example or the option")
        #expect(!result.stdout.contains("--now"))
    }

    /// The records a handheld holds, read through its store.
    static func records(_ home: URL) throws -> [RecordState] {
        try ClientStore.open(home: home).allRecords()
    }
}
