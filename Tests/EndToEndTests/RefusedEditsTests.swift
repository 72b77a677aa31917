import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// Issue 11, "Refusals are per edit, and not all are final", against a real `butler-server` and the
/// real `butler` CLI on loopback.
@Suite("End to end: refused edits", .serialized)
struct RefusedEditsTests {
    /// A server with two butler handhelds, Li's and Wang's, set up through `butler init`.
    struct Field {
        let scratch: Scratch
        let server: ServerProcess
        let li: String
        let wang: String
        let liToken: String

        func li(_ args: [String]) async throws -> CommandResult { try await runCommand("butler", ["--home", li] + args) }
        func wang(_ args: [String]) async throws -> CommandResult { try await runCommand("butler", ["--home", wang] + args) }
    }

    static func field(_ name: String) async throws -> Field {
        let cluster = try await Cluster.processes(name)
        let (scratch, server) = (cluster.scratch, cluster.node)
        let liToken = try await server.addDevice("li", role: .butler, zones: ["east-3"])
        let wangToken = try await server.addDevice("wang", role: .butler, zones: ["east-3"])
        let field = Field(
            scratch: scratch, server: server, li: scratch.url.appendingPathComponent("li").path,
            wang: scratch.url.appendingPathComponent("wang").path, liToken: liToken)
        #expect(try await field.li(["init", "--server", server.url, "--token", liToken, "--name", "李管家"]).status == 0)
        #expect(try await field.wang(["init", "--server", server.url, "--token", wangToken, "--name", "王管家"]).status == 0)
        return field
    }

    /// Issue 11's first failure: Li records a fire-door defect with a note, submits, then reviews by
    /// mistake; returns the form id, with everything in Li's outbox and nothing synced yet.
    ///
    /// Li's handheld now refuses a review at once on a device it knows is a butler's, so the review
    /// needs a device that believes otherwise: this handheld was a supervisor's and learnt that role
    /// at an earlier sync (written here through the library, exactly as `SyncEngine.sync` stores
    /// it), and the server has since registered its token as a butler's. The local check can only
    /// go by what the device knows; the server's role check is what this scenario exercises.
    static func mistakenReview(_ field: Field) async throws -> String {
        try ClientStore.open(home: URL(fileURLWithPath: field.li)).setDeviceInfo(DeviceInfo(name: "li", role: .supervisor, zones: [Zone("east-3")]))
        let created = try await field.li(["form", "new", "--template", "building-patrol", "--zone", "east-3", "--place", "3号楼2单元 楼梯间"])
        #expect(created.status == 0)
        let form = created.stdout.trimmingCharacters(in: .newlines)
        #expect(try await field.li(["form", "set", form, "fire-door", "--result", "defect", "--note", "闭门器损坏"]).status == 0)
        #expect(try await field.li(["form", "note", form, "巡查完毕"]).status == 0)
        #expect(try await field.li(["form", "submit", form]).status == 0)
        let review = try await field.li(["form", "review", form, "--note", "误操作"])
        #expect(review.status == 0, "\(review.stderr)")
        #expect(try JSONParser.parse(try await field.li(["status", "--json"]).stdout)["pendingEdits"] == 5)
        return form
    }

    @Test("the mistaken review alone is refused (role-forbidden); the defect, note and submission reach another device in the same sync")
    func mistakenReviewIsRefusedAlone() async throws {
        let field = try await Self.field("mistaken-review")
        defer { field.server.terminate() }
        let form = try await Self.mistakenReview(field)

        let sync = try await field.li(["sync", "--json", "--quiet"])
        #expect(sync.status == 1, "a final refusal needs a person: \(sync.stderr)")
        #expect(sync.stderr.contains("edits-refused") && CLITests.lines(sync.stderr).count == 1)
        let synced = try JSONParser.parse(sync.stdout)
        #expect(synced["report"]?["pushed"] == 4, "creation, defect with its note, form note, submission")
        #expect(synced["report"]?["refused"] == 1)
        #expect(synced["status"]?["pendingEdits"] == 0)
        #expect(synced["status"]?["refusedEdits"] == 1)

        let refused = try JSONParser.parse(try await field.li(["refused", "list", "--json"]).stdout)
        let only = try #require(refused.arrayValue?.first)
        #expect(refused.arrayValue?.count == 1)
        #expect(only["record"] == .string(form) && only["code"] == "role-forbidden" && only["final"] == true)
        #expect(only["id"]?.intValue != nil && only["message"]?.stringValue?.isEmpty == false)
        let text = try await field.li(["refused", "list"])
        #expect(text.status == 0 && text.stdout.contains("role-forbidden") && text.stdout.contains("final"))

        // Another device gets everything but the review.
        #expect(try await field.wang(["sync", "--quiet"]).status == 0)
        let seen = try JSONParser.parse(try await field.wang(["form", "show", form, "--json"]).stdout)
        #expect(seen["status"] == "submitted")
        #expect(seen["items"]?["fire-door"]?["result"] == "defect")
        #expect(seen["items"]?["fire-door"]?["notes"]?.arrayValue?.first?["text"] == "闭门器损坏")
        #expect(seen["notes"]?.arrayValue?.first?["text"] == "巡查完毕")
        #expect(seen["reviewNotes"] == [])
        // Now that Li's handheld knows it is a butler's, another review is refused at once.
        let again = try await field.li(["form", "review", form])
        #expect(again.status == 1 && again.stderr.contains("role-forbidden"))
    }

    @Test("refused list --json, then discard: after the next sync the local form is the server's, and sync exits 0")
    func discardRoundTrip() async throws {
        let field = try await Self.field("discard")
        defer { field.server.terminate() }
        let form = try await Self.mistakenReview(field)
        #expect(try await field.li(["sync", "--quiet"]).status == 1)
        let refused = try JSONParser.parse(try await field.li(["refused", "list", "--json"]).stdout)
        let id = try #require(refused.arrayValue?.first?["id"]?.intValue)
        // The server keeps it pending for the supervisor's devices page.
        let pending = try await field.server.pendingRefusals("li")
        #expect(pending.count == 1 && pending.first?["code"] == "role-forbidden" && pending.first?["record"] == .string(form))
        #expect(pending.first?["held"] == false && pending.first?["times"] == 1)

        let unknown = try await field.li(["refused", "discard", "999999"])
        #expect(unknown.status == 1 && unknown.stderr.contains("unknown-edit"))
        // Offline is enough to discard: the server is down.
        await field.server.stop()
        let discard = try await field.li(["refused", "discard", String(id)])
        #expect(discard.status == 0, "\(discard.stderr)")
        #expect(try JSONParser.parse(try await field.li(["refused", "list", "--json"]).stdout) == [])
        #expect(try JSONParser.parse(try await field.li(["form", "show", form, "--json"]).stdout)["status"] == "reviewed", "undone by the next sync")
        #expect(try await field.li(["sync", "--quiet"]).status == 75, "the server is down")

        try await field.server.start()
        let sync = try await field.li(["sync", "--json", "--quiet"])
        #expect(sync.status == 0, "\(sync.stderr)")
        #expect(try JSONParser.parse(sync.stdout)["report"]?["rebased"] == 1)
        // The sync told the server of the discard: nothing is pending for li any more.
        #expect(try await field.server.pendingRefusals("li").isEmpty)
        #expect(try await field.wang(["sync", "--quiet"]).status == 0)
        let mine = try JSONParser.parse(try await field.li(["form", "show", form, "--json"]).stdout)
        #expect(mine["status"] == "submitted" && mine["reviewNotes"] == [])
        #expect(mine == (try JSONParser.parse(try await field.wang(["form", "show", form, "--json"]).stdout)))

        // Byte for byte: Li's stored state is the server's.
        let store = try ClientStore.open(home: URL(fileURLWithPath: field.li))
        let server = try await CurlTransport(configuration: .init(baseURL: field.server.url, token: field.liToken)).record(id: RecordID(form))
        #expect(try store.record(RecordID(form))?.canonicalJSON == (try #require(server)).canonicalJSON)
        #expect(try store.recordsToRebase().isEmpty)
        #expect(try await CurlTransport(configuration: .init(baseURL: field.server.url, token: field.liToken)).record(id: RecordID("form-nope")) == nil)
    }

    @Test("an edit made while the clock was 10 days fast is held (clock-ahead), and delivered by the sync after the clock is fixed")
    func clockAheadHeldThenDelivered() async throws {
        let field = try await Self.field("clock-ahead")
        defer { field.server.terminate() }
        let home = URL(fileURLWithPath: field.li)
        // The handheld's clock is 10 days fast (more than the server's 7-day allowance).
        let ahead = try ClientStore.open(home: home, clock: SkewedClock(offset: 10 * 86_400))
        let engine = SyncEngine(store: ahead, transport: CurlTransport(configuration: .init(baseURL: field.server.url, token: field.liToken)))
        let form = try ahead.createForm(template: "building-patrol", zone: Zone("east-3"), place: "5号楼 大堂")
        try ahead.setResult(form: form, item: "fire-door", result: .defect, note: "消防门无法关闭")
        let first = try await engine.sync()
        #expect((first.pushed, first.refused, first.held) == (0, 0, 2), "split, then each held: \(first)")
        let left = try #require(try engine.completion().error)
        #expect(left.code == .editsHeld && left.isTransient && left.message.contains("clock-ahead"))
        // A second sync with the clock still wrong holds them again: nothing is lost, nothing is final.
        let second = try await engine.sync()
        #expect((second.pushed, second.held, second.restamped) == (0, 2, 0))
        let listed = try JSONParser.parse(try await field.li(["refused", "list", "--json"]).stdout)
        #expect(listed.arrayValue?.map { $0["code"] } == ["clock-ahead", "clock-ahead"])
        #expect(listed.arrayValue?.allSatisfy { $0["final"] == false } == true)
        let status = try JSONParser.parse(try await field.li(["status", "--json"]).stdout)
        #expect(status["heldEdits"] == 2 && status["pendingEdits"] == 2 && status["refusedEdits"] == 0)
        // The server lists the two held edits as pending, each refused twice: the joined entry it
        // refused first gave way to the edits refused one by one.
        let pending = try await field.server.pendingRefusals("li")
        #expect(pending.map { $0["code"] } == ["clock-ahead", "clock-ahead"] && pending.allSatisfy { $0["held"] == true })
        #expect(pending.map { $0["times"] } == [2, 2], "\(pending)")

        // The clock is fixed; the butler goes on through the CLI, which runs on the real clock. The
        // new note is stamped by the corrected clock, and the held edits are re-stamped and delivered.
        #expect(try await field.li(["form", "note", form.rawValue, "时钟已校准"]).status == 0)
        let sync = try await field.li(["sync", "--json", "--quiet"])
        #expect(sync.status == 0, "\(sync.stderr)")
        let report = try JSONParser.parse(sync.stdout)["report"]
        #expect(report?["restamped"] == 2 && report?["pushed"] == 3 && report?["held"] == 0)
        #expect(try await field.server.pendingRefusals("li").isEmpty, "delivered: nothing pending")

        #expect(try await field.wang(["sync", "--quiet"]).status == 0)
        let seen = try JSONParser.parse(try await field.wang(["form", "show", form.rawValue, "--json"]).stdout)
        #expect(seen["items"]?["fire-door"]?["result"] == "defect")
        #expect(seen["notes"]?.arrayValue?.map { $0["text"] } == ["时钟已校准"])
        let fixed = try ClientStore.open(home: home)
        let mine = try #require(try fixed.record(form))
        let limit = HybridLogicalClock.millis(Date()) + HybridLogicalClock.maxForwardDrift
        #expect(mine.fields.values.flatMap(\.values).allSatisfy { $0.time.millis < limit }, "no stamp from the wrong clock is left")
        let server = try await CurlTransport(configuration: .init(baseURL: field.server.url, token: field.liToken)).record(id: form)
        #expect(mine.canonicalJSON == (try #require(server)).canonicalJSON)
    }
}
