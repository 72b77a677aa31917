import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// Issue 13, "a butler's morning": `butler today` against a real `butler-server`, id prefixes as
/// git takes them, and times in the estate's local time.
@Suite("End to end: butler today, id prefixes, local times", .serialized)
struct TodayCLITests {
    static func id(_ result: CommandResult) -> String {
        let text = result.stdout.trimmingCharacters(in: .newlines)
        #expect(result.status == 0 && !text.isEmpty && !text.contains("\n"), "one id alone on stdout: \(result.stderr)")
        return text
    }

    @Test("a draft, a notice due, a complaint to fix and a repair to call back: listed soonest first, overdue later, the same on the supervisor's device")
    func morning() async throws {
        let cluster = try await Cluster.processes("today-cli")
        defer { cluster.terminate() }
        let (scratch, server) = (cluster.scratch, cluster.node)
        var homes: [String: String] = [:]
        for (name, role) in [("li", DeviceRole.butler), ("zhou", .supervisor)] {
            let token = try await server.addDevice(name, role: role, zones: ["east-3"])
            homes[name] = scratch.path(name).path
            let initialized = try await runCommand("butler", ["--home", homes[name]!, "init", "--server", server.url, "--token", token, "--name", name])
            #expect(initialized.status == 0, "\(initialized.stderr)")
        }
        func on(_ device: String, _ args: [String]) async throws -> CommandResult { try await runCommand("butler", ["--home", homes[device]!] + args) }
        func today(_ device: String, _ args: [String] = []) async throws -> JSONValue {
            let result = try await on(device, ["today", "--json"] + args)
            #expect(result.status == 0, "\(result.stderr)")
            return try JSONParser.parse(result.stdout)
        }

        // A draft; a submitted form whose notice is due in an hour; a minor complaint; a general repair done.
        let draft = Self.id(try await on("li", ["form", "new", "--template", "building-patrol", "--zone", "east-3", "--place", "3号楼2单元 楼梯间"]))
        let patrol = Self.id(try await on("li", ["form", "new", "--template", "public-area", "--zone", "east-3", "--place", "中心花园"]))
        let template = try TemplateCatalog.bundled().template("public-area")
        let item = try #require(template.items.first?.key)
        #expect(try await on("li", ["form", "set", patrol, item, "--result", "defect", "--note", "垃圾未清"]).status == 0)
        let due = Date().addingTimeInterval(3600)
        let notice = Self.id(try await on("li", ["notice", "new", patrol, item, "--party", "cleaning", "--due", Timestamp.format(due)]))
        #expect(try await on("li", ["form", "submit", patrol]).status == 0)
        let complaint = Self.id(try await on("li", ["complaint", "new", "--zone", "east-3", "--place", "7号楼 502", "--level", "minor", "--description", "楼上漏水"]))
        let order = Self.id(try await on("li", ["workorder", "new", "--zone", "east-3", "--place", "5号楼 301", "--category", "general", "--description", "灯坏"]))
        #expect(try await on("li", ["workorder", "start", order]).status == 0)
        #expect(try await on("li", ["workorder", "complete", order]).status == 0)

        // Soonest first, before any sync (offline): notice (1 h), callback (2 days), complaint fix (3 working days), then the draft.
        let agenda = try await today("li")
        let items = try #require(agenda["items"]?.arrayValue)
        #expect(items.map { $0["kind"] } == ["notice", "callback", "complaint-fix", "draft"])
        #expect(items.map { $0["record"] } == [.string(patrol), .string(order), .string(complaint), .string(draft)], "JSON keeps full ids")
        #expect(items[0]["notice"] == .string(notice) && items.allSatisfy { $0["overdue"] == false })
        let dues = items.prefix(3).compactMap { $0["due"]?.stringValue.flatMap(Timestamp.parse) }
        #expect(dues.count == 3 && dues == dues.sorted() && items[3]["due"] == .null, "ISO 8601 UTC due times")
        #expect(items[0]["due"]?.stringValue?.hasSuffix("Z") == true)
        #expect(agenda["zones"] == ["east-3"])

        // A month later, nothing done: the three deadlines are overdue, each the escalation the supervisor sees.
        let later = try await today("li", ["--now", Timestamp.format(Date().addingTimeInterval(30 * 86_400))])
        let overdue = try #require(later["items"]?.arrayValue)
        #expect(overdue.map { $0["overdue"] } == [true, true, true, false])
        #expect(overdue.map { $0["escalation"] } == ["rectification-overdue", "callback-overdue", "complaint-fix-overdue", .null])

        // Text: short ids, local times with the estate's offset.
        let text = try await on("li", ["today"])
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 5 && lines[0].contains("+08:00") && lines[1].hasPrefix(CLITestsTime.local(due)))
        #expect(lines[4].contains(String(draft.prefix(13))) && !text.stdout.contains(draft), "short ids in text: \(text.stdout)")
        #expect(lines[1].contains("notice") && lines[2].contains("callback") && lines[3].contains("complaint-fix") && lines[4].contains("draft"))
        let list = try await on("li", ["form", "list"])
        #expect(list.stdout.contains(String(draft.prefix(13))) && !list.stdout.contains(draft))
        let shown = try await on("li", ["complaint", "show", String(complaint.prefix(11))])
        #expect(shown.status == 0 && shown.stdout.contains("fix due") && shown.stdout.contains("+08:00"), "\(shown.stdout)")

        // Prefixes: unique ones work everywhere an id goes; an ambiguous one lists the candidates.
        let byPrefix = try JSONParser.parse(try await on("li", ["form", "show", String(draft.prefix(13)), "--json"]).stdout)
        #expect(byPrefix["id"] == .string(draft))
        let ambiguous = try await on("li", ["form", "show", "form-"])
        #expect(ambiguous.status == 1 && ambiguous.stdout.isEmpty && ambiguous.stderr.contains("invalid-argument"))
        #expect(ambiguous.stderr.contains(draft) && ambiguous.stderr.contains(patrol) && ambiguous.stderr.contains("ambiguous"))
        let unknown = try await on("li", ["form", "show", "form-zzzzzzzz"])
        #expect(unknown.status == 1 && unknown.stderr.contains("unknown-record"))
        let wrongType = try await on("li", ["complaint", "show", String(order.prefix(11))])
        #expect(wrongType.status == 1 && wrongType.stderr.contains("unknown-record"), "a prefix names a record of the command's type only")
        let ref = try RectificationNotice.Reference(notice)
        let noticeShown = try JSONParser.parse(try await on("li", ["notice", "show", "\(patrol.prefix(13))/\(ref.notice)", "--json"]).stdout)
        #expect(noticeShown["ref"] == .string(notice))
        #expect(try await on("li", ["form", "set", String(draft.prefix(10)), "hygiene", "--result", "ok"]).status == 0)
        let callback = try JSONParser.parse(try await on("li", ["callback", "show", String(order.prefix(12)), "--json"]).stdout)
        #expect(callback["workorder"] == .string(order))

        // The supervisor's handheld, after syncing, has the same agenda for the zone.
        #expect(try await on("li", ["sync", "--quiet"]).status == 0)
        #expect(try await on("zhou", ["sync", "--quiet"]).status == 0)
        let theirs = try await today("zhou", ["--zone", "east-3"])
        #expect(theirs["items"]?.arrayValue?.map { $0["record"] } == items.map { $0["record"] })
    }
}

/// How the CLI writes an instant: `yyyy-MM-dd HH:mm +08:00` in the estate's default time zone.
enum CLITestsTime {
    static func local(_ date: Date) -> String {
        let shifted = Timestamp.format(date.addingTimeInterval(8 * 3600))
        return "\(shifted.prefix(10)) \(shifted.dropFirst(11).prefix(5)) +08:00"
    }
}
