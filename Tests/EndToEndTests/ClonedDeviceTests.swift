import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// Issue 11, "Replica identity is the server's to vouch for": a handheld image copied onto a second
/// device, and a handheld restored from an old backup, against a real `butler-server` and the real
/// `butler` CLI. Both reuse dots the server already holds; the server refuses them (`dot-reused`),
/// the device moves to a fresh replica id, re-stamps its queued edits and delivers them in the same
/// sync, and no edit of either device is lost.
@Suite("End to end: cloned and restored handhelds", .serialized)
struct ClonedDeviceTests {
    static func copy(_ from: String, to: String) throws {
        if FileManager.default.fileExists(atPath: to) { try FileManager.default.removeItem(atPath: to) }
        try FileManager.default.copyItem(atPath: from, toPath: to)
    }

    static func form(_ home: String, _ id: String) async throws -> JSONValue {
        let shown = try await runCommand("butler", ["--home", home, "form", "show", id, "--json"])
        #expect(shown.status == 0, "\(shown.stderr)")
        return try JSONParser.parse(shown.stdout)
    }

    static func result(_ form: JSONValue, _ item: String) -> JSONValue? { form["items"]?[item]?["result"] }

    @Test("a cloned handheld keeps both devices' edits")
    func clone() async throws {
        let field = try await RefusedEditsTests.field("clone")
        defer { field.server.terminate() }
        let created = try await field.li(["form", "new", "--template", "building-patrol", "--zone", "east-3", "--place", "5号楼 地下车库"])
        let form = created.stdout.trimmingCharacters(in: .newlines)
        #expect(try await field.li(["sync", "--quiet"]).status == 0)
        // The image is copied onto a second handheld: same store, same token, same replica id.
        let clone = field.scratch.url.appendingPathComponent("li-clone").path
        try Self.copy(field.li, to: clone)
        func onClone(_ args: [String]) async throws -> CommandResult { try await runCommand("butler", ["--home", clone] + args) }
        // Both record a finding; each mints the same next dot of the form.
        #expect(try await field.li(["form", "set", form, "fire-door", "--result", "defect", "--note", "闭门器损坏"]).status == 0)
        #expect(try await onClone(["form", "set", form, "stairwell-lights", "--result", "defect", "--note", "3F 灯不亮"]).status == 0)
        #expect(try await field.li(["sync", "--quiet"]).status == 0)
        let synced = try await onClone(["sync", "--json", "--quiet"])
        #expect(synced.status == 0, "the clone's edits land after it moves to a fresh replica: \(synced.stderr)")
        let report = try JSONParser.parse(synced.stdout)
        #expect((report["report"]?["replicaRestamped"]?.intValue ?? 0) >= 1)
        #expect(report["status"]?["refusedEdits"] == 0 && report["status"]?["pendingEdits"] == 0)
        #expect(try await field.li(["sync", "--quiet"]).status == 0)
        #expect(try await field.wang(["sync", "--quiet"]).status == 0)
        // Every device shows both findings; the two handhelds now have different replica ids.
        var views: [JSONValue] = []
        for home in [field.li, clone, field.wang] { views.append(try await Self.form(home, form)) }
        for view in views {
            #expect(Self.result(view, "fire-door") == "defect")
            #expect(Self.result(view, "stairwell-lights") == "defect")
        }
        #expect(Set(views.map(\.canonicalString)).count == 1, "the three devices show the same form")
        var replicas: [JSONValue?] = []
        for home in [field.li, clone] { replicas.append(try JSONParser.parse(try await runCommand("butler", ["--home", home, "status", "--json"]).stdout)["replica"]) }
        #expect(replicas[0] != replicas[1])
        let check = try await runCommand("butler-server", ["check", "--data", field.server.data.path])
        #expect(check.status == 0, "every stored record is the join of its audited edits: \(check.stdout) \(check.stderr)")
        // The clone's refusals ended with its move: nothing is left pending for a supervisor.
        #expect(try await field.server.pendingRefusals("li").isEmpty)
    }

    @Test("a handheld restored from an old backup loses neither its old nor its new findings")
    func restoredBackup() async throws {
        let field = try await RefusedEditsTests.field("backup")
        defer { field.server.terminate() }
        let created = try await field.li(["form", "new", "--template", "building-patrol", "--zone", "east-3", "--place", "2号楼 屋顶"])
        let form = created.stdout.trimmingCharacters(in: .newlines)
        #expect(try await field.li(["sync", "--quiet"]).status == 0)
        let backup = field.scratch.url.appendingPathComponent("li-backup").path
        try Self.copy(field.li, to: backup)
        // After the backup: ok, then defect, both synced (the ok's dot is overwritten on the server).
        #expect(try await field.li(["form", "set", form, "escape-roof-door", "--result", "ok"]).status == 0)
        #expect(try await field.li(["sync", "--quiet"]).status == 0)
        #expect(try await field.li(["form", "set", form, "escape-roof-door", "--result", "defect", "--note", "逃生门被锁"]).status == 0)
        #expect(try await field.li(["sync", "--quiet"]).status == 0)
        // The handheld is restored from the backup and the butler carries on.
        try Self.copy(backup, to: field.li)
        #expect(try await field.li(["form", "set", form, "roof-railings", "--result", "defect", "--note", "栏杆松动"]).status == 0)
        let synced = try await field.li(["sync", "--json", "--quiet"])
        #expect(synced.status == 0, "\(synced.stderr)")
        #expect((try JSONParser.parse(synced.stdout)["report"]?["replicaRestamped"]?.intValue ?? 0) >= 1)
        #expect(try await field.wang(["sync", "--quiet"]).status == 0)
        for home in [field.li, field.wang] {
            let view = try await Self.form(home, form)
            #expect(Self.result(view, "escape-roof-door") == "defect", "the finding made after the backup survives the restore")
            #expect(Self.result(view, "roof-railings") == "defect", "the finding made after the restore lands")
        }
        #expect(try await Self.form(field.li, form).canonicalString == (try await Self.form(field.wang, form)).canonicalString)
        #expect(try await field.server.pendingRefusals("li").isEmpty, "the restored handheld's refusals ended with its move")
    }
}
