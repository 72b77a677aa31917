import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// The field-tools command contract (issue 5): names, flags, stdout of ids, JSON keys, exit codes —
/// run as built executables against a live server on loopback.
@Suite("End to end: the butler CLI", .serialized)
struct CLITests {
    static func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

    @Test("a butler's day through the CLI: ids on stdout, JSON shapes, --home before or after the subcommand")
    func contract() async throws {
        let cluster = try await Cluster.processes("cli")
        let (scratch, server) = (cluster.scratch, cluster.node)
        let token = try await server.addDevice("li", role: .butler, zones: ["east-3"])
        let home = scratch.url.appendingPathComponent("li").path
        func before(_ args: [String]) async throws -> CommandResult { try await runCommand("butler", ["--home", home] + args) }
        func after(_ args: [String]) async throws -> CommandResult { try await runCommand("butler", args + ["--home", home]) }

        let initResult = try await before(["init", "--server", server.url, "--token", token, "--name", "李管家"])
        #expect(initResult.status == 0 && initResult.stdout.isEmpty)

        let form = try await before(["form", "new", "--template", "building-patrol", "--zone", "east-3", "--place", "3号楼2单元 楼梯间"])
        #expect(form.status == 0)
        let formID = form.stdout.trimmingCharacters(in: .newlines)
        #expect(Self.lines(form.stdout).count == 1 && (try? RecordID(formID)) != nil, "the form id alone on stdout")

        #expect(try await after(["form", "set", formID, "stairwell-lights", "--result", "defect", "--note", "3F 走廊灯不亮"]).status == 0)
        #expect(try await before(["form", "note", formID, "巡查完毕"]).status == 0)
        let photoFile = scratch.url.appendingPathComponent("IMG_0001.jpg")
        try writePhoto(photoFile, bytes: 200_000, seed: 3)
        let photo = try await before(["photo", "add", formID, photoFile.path, "--item", "stairwell-lights", "--caption", "3F"])
        let sha = photo.stdout.trimmingCharacters(in: .newlines)
        #expect(photo.status == 0 && Photo.isSHA256(sha), "the sha256 alone on stdout")

        let show = try JSONParser.parse(try await after(["form", "show", formID, "--json"]).stdout)
        for key in ["id", "template", "zone", "place", "status", "items", "conflicts"] { #expect(show[key] != nil, "form show --json has \(key)") }
        let item = try #require(show["items"]?["stairwell-lights"])
        #expect(item["result"] == "defect")
        #expect(item["notes"]?.arrayValue?.first?["author"] == "李管家")
        #expect(item["notes"]?.arrayValue?.first?["text"] == "3F 走廊灯不亮")
        #expect(item["photos"] == [.string(sha)])

        let list = try JSONParser.parse(try await before(["form", "list", "--json"]).stdout)
        #expect(list.arrayValue?.count == 1)
        for key in ["id", "template", "zone", "place", "status"] { #expect(list.arrayValue?.first?[key] != nil, "form list --json has \(key)") }

        let order = try await before(["workorder", "new", "--zone", "east-3", "--place", "5号楼 301", "--category", "dangerous", "--description", "爆管"])
        let orderID = order.stdout.trimmingCharacters(in: .newlines)
        #expect(order.status == 0 && Self.lines(order.stdout).count == 1)
        // Honest times (issue 13): a callback follows the completion and is never dated in the future.
        let started = Date().addingTimeInterval(5)
        let completed = started.addingTimeInterval(60)
        #expect(try await before(["workorder", "start", orderID, "--at", Timestamp.format(started)]).status == 0)
        #expect(try await after(["workorder", "complete", orderID, "--at", Timestamp.format(completed)]).status == 0)
        #expect(try await before(["callback", "log", orderID, "--channel", "phone", "--reached", "no", "--at", Timestamp.format(completed.addingTimeInterval(120))]).status == 0)
        #expect(try await before(["callback", "log", orderID, "--channel", "visit", "--reached", "yes", "--satisfaction", "satisfied", "--note", "住户签字"]).status == 0)
        let callback = try JSONParser.parse(try await before(["callback", "show", orderID, "--json"]).stdout)
        #expect(callback["workorder"] == .string(orderID))
        #expect(callback["attempts"]?.arrayValue?.count == 2)
        #expect(callback["outcome"] == "satisfied")
        #expect(callback["due"] == .string(Timestamp.format(completed.addingTimeInterval(86_400))), "dangerous: 24 h after completion")

        let pending = try JSONParser.parse(try await before(["status", "--json"]).stdout)
        for key in ["pendingEdits", "pendingPhotoBytes", "lastSync", "server"] { #expect(pending[key] != nil, "status --json has \(key)") }
        #expect(pending["pendingPhotoBytes"] == 200_000)
        #expect(pending["lastSync"] == .null)

        let sync = try await before(["sync", "--json", "--quiet"])
        #expect(sync.status == 0, "\(sync.stderr)")
        #expect(sync.stderr.isEmpty, "--quiet prints nothing on stderr")
        let synced = try JSONParser.parse(sync.stdout)
        #expect(synced["status"]?["pendingEdits"] == 0)
        #expect(synced["report"]?["photosUploaded"] == 1)
        let conflicts = try JSONParser.parse(try await after(["conflicts", "--json"]).stdout)
        #expect(conflicts == [])

        // Submitted: further edits are refused with a code and change nothing.
        #expect(try await before(["form", "submit", formID]).status == 0)
        let refused = try await before(["form", "set", formID, "tiles", "--result", "ok"])
        #expect(refused.status == 1)
        #expect(Self.lines(refused.stderr).count == 1 && refused.stderr.contains("form-submitted"))
        #expect(try await before(["sync", "--quiet"]).status == 0)

        // The supervisor reviews and closes; a butler's review is refused by the server and kept for review.
        let supervisorToken = try await server.addDevice("zhou", role: .supervisor, zones: ["east-3"])
        let supervisorHome = scratch.url.appendingPathComponent("zhou").path
        func zhou(_ args: [String]) async throws -> CommandResult { try await runCommand("butler", ["--home", supervisorHome] + args) }
        #expect(try await zhou(["init", "--server", server.url, "--token", supervisorToken]).status == 0)
        #expect(try await zhou(["sync", "--quiet"]).status == 0)
        #expect(try await zhou(["form", "review", formID, "--note", "已复核"]).status == 0)
        #expect(try await zhou(["form", "close", formID]).status == 0)
        #expect(try await zhou(["sync", "--quiet"]).status == 0)
        #expect(try await before(["sync", "--quiet"]).status == 0)
        let closed = try JSONParser.parse(try await before(["form", "show", formID, "--json"]).stdout)
        #expect(closed["status"] == "closed")
        #expect(closed["reviewNotes"]?.arrayValue?.first?["author"] == "zhou")
        // Reopening a closed form undoes the supervisor's decision: the butler's handheld refuses it
        // at once (issue 11), the supervisor's does it.
        let butlerReopen = try await before(["form", "reopen", formID])
        #expect(butlerReopen.status == 1 && butlerReopen.stderr.contains("role-forbidden"))
        #expect(try await zhou(["form", "reopen", formID]).status == 0)
        #expect(try await zhou(["sync", "--quiet"]).status == 0)
        #expect(try await before(["sync", "--quiet"]).status == 0)
        #expect(try JSONParser.parse(try await before(["form", "show", formID, "--json"]).stdout)["round"] == 2)
        await server.stop()
    }

    @Test("errors are one line on stderr with a code, a non-zero exit, and nothing changed")
    func errors() async throws {
        let scratch = Scratch("cli-errors")
        let home = scratch.url.appendingPathComponent("h").path
        func butler(_ args: [String]) async throws -> CommandResult { try await runCommand("butler", ["--home", home] + args) }

        let notInit = try await butler(["form", "list"])
        #expect(notInit.status == 1 && notInit.stderr.contains("not-initialized"))
        #expect(!FileManager.default.fileExists(atPath: home), "a command before init creates nothing")
        // A server nobody listens on: set up offline, then sync fails with the transient exit code.
        let setup = try await butler(["init", "--server", "http://127.0.0.1:9", "--token", "bt_x", "--name", "李管家"])
        #expect(setup.status == 0)
        let form = try await butler(["form", "new", "--template", "building-patrol", "--zone", "east-3", "--place", "p"]).stdout
            .trimmingCharacters(in: .newlines)
        let offline = try await butler(["sync", "--quiet"])
        #expect(offline.status == 75)
        #expect(Self.lines(offline.stderr).count == 1 && offline.stderr.contains("unreachable"))
        let status = try JSONParser.parse(try await butler(["status", "--json"]).stdout)
        #expect(status["pendingEdits"] == 1, "nothing lost by a failed sync")

        let badResult = try await butler(["form", "set", form, "tiles", "--result", "great"])
        #expect(badResult.status != 0 && badResult.stderr.contains("--result"))
        let unknown = try await butler(["form", "show", "form-nope"])
        #expect(unknown.status == 1 && unknown.stderr.contains("unknown-record"))
        let badTemplate = try await butler(["form", "new", "--template", "sauna", "--zone", "east-3", "--place", "p"])
        #expect(badTemplate.status == 1 && badTemplate.stderr.contains("unknown-template") && badTemplate.stdout.isEmpty)
        let badTime = try await butler(["workorder", "start", "wo-x", "--at", "yesterday"])
        #expect(badTime.status == 1)
        let missingFile = try await butler(["photo", "add", form, "/nonexistent.jpg"])
        #expect(missingFile.status == 1 && missingFile.stdout.isEmpty)
        let again = try JSONParser.parse(try await butler(["status", "--json"]).stdout)
        #expect(again["pendingEdits"] == 1, "the failed commands changed nothing")
        #expect(try await butler(["init", "--server", "http://127.0.0.1:9", "--token", "t"]).stderr.contains("already-initialized"))
    }

    @Test("butler photo detach takes a photo off an item offline: nothing on stdout, the form no longer shows it, a second detach is invalid-value")
    func photoDetach() async throws {
        let scratch = Scratch("cli-detach")
        let home = scratch.url.appendingPathComponent("h").path
        func butler(_ args: [String]) async throws -> CommandResult { try await runCommand("butler", ["--home", home] + args) }
        #expect(try await butler(["init", "--server", "http://127.0.0.1:9", "--token", "bt_x", "--name", "李管家"]).status == 0)
        let form = try await butler(["form", "new", "--template", "building-patrol", "--zone", "east-3", "--place", "p"]).stdout
            .trimmingCharacters(in: .newlines)
        let file = try scratch.photo("IMG_0002.jpg", bytes: 5_000, seed: 9)
        let sha = try await butler(["photo", "add", form, file.path, "--item", "stairwell-lights"]).stdout.trimmingCharacters(in: .newlines)
        #expect(Photo.isSHA256(sha))
        let detach = try await butler(["photo", "detach", form, sha, "--item", "stairwell-lights"])
        #expect(detach.status == 0 && detach.stdout.isEmpty, "\(detach.stderr)")
        let show = try JSONParser.parse(try await butler(["form", "show", form, "--json"]).stdout)
        #expect((show["items"]?["stairwell-lights"]?["photos"]?.arrayValue ?? []).isEmpty)
        let again = try await butler(["photo", "detach", form, sha])
        #expect(again.status == 1 && again.stderr.contains("invalid-value") && again.stdout.isEmpty)
    }

    @Test("butler template list|show work before init: the templates and the item keys form set takes; an unknown id is unknown-template")
    func templates() async throws {
        let scratch = Scratch("cli-templates")
        func butler(_ args: [String]) async throws -> CommandResult { try await runCommand("butler", ["--home", scratch.path("h").path] + args) }
        let list = try JSONParser.parse(try await butler(["template", "list", "--json"]).stdout)
        let ids = list.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
        #expect(ids.contains("building-patrol") && ids == ids.sorted())
        for key in ["id", "version", "title", "titleEn", "source", "items"] { #expect(list.arrayValue?.first?[key] != nil, "template list --json has \(key)") }
        let show = try JSONParser.parse(try await butler(["template", "show", "building-patrol", "--json"]).stdout)
        let keys = show["sections"]?.arrayValue?.flatMap { $0["items"]?.arrayValue ?? [] }.compactMap { $0["key"]?.stringValue } ?? []
        #expect(keys.contains("stairwell-lights") && keys.contains("fire-door"))
        let unknown = try await butler(["template", "show", "sauna"])
        #expect(unknown.status == 1 && unknown.stderr.contains("unknown-template") && unknown.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: scratch.path("h").path), "reading templates creates no store")
    }

    @Test("--help reads on every command", arguments: [
        [], ["init"], ["form"], ["form", "new"], ["form", "set"], ["form", "note"], ["form", "submit"], ["form", "show"], ["form", "list"],
        ["photo", "add"], ["photo", "detach"], ["workorder", "new"], ["workorder", "start"], ["workorder", "complete"], ["callback", "log"],
        ["callback", "show"], ["sync"], ["status"], ["conflicts"], ["form", "review"], ["form", "close"], ["form", "reopen"],
        ["refused"], ["refused", "list"], ["refused", "discard"], ["template"], ["template", "list"], ["template", "show"],
        ["callback", "close"], ["complaint"], ["complaint", "new"], ["complaint", "fix"], ["complaint", "callback"], ["complaint", "approve"],
        ["complaint", "show"], ["complaint", "list"], ["today"],
    ])
    func help(_ command: [String]) async throws {
        let result = try await runCommand("butler", command + ["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("USAGE"))
    }
}

@Suite("End to end: an encrypted handheld", .serialized)
struct EncryptedCLITests {
    @Test("with BUTLER_KEY_FILE, butler init makes the key and an encrypted store that syncs like any other")
    func encryptedStoreSyncs() async throws {
        let cluster = try await Cluster.processes("cli-key")
        let (scratch, server) = (cluster.scratch, cluster.node)
        let token = try await server.addDevice("li", role: .butler, zones: ["east-3"])
        defer { server.terminate() }
        let keyFile = scratch.url.appendingPathComponent("keys/li.key")
        try FileManager.default.createDirectory(at: keyFile.deletingLastPathComponent(), withIntermediateDirectories: true)
        let home = scratch.url.appendingPathComponent("li").path
        let env = ["BUTLER_KEY_FILE": keyFile.path]
        func butler(_ args: [String], _ environment: [String: String] = env) async throws -> CommandResult {
            try await runCommand("butler", ["--home", home] + args, environment: environment)
        }
        #expect(try await butler(["init", "--server", server.url, "--token", token]).status == 0)
        #expect(FileManager.default.fileExists(atPath: keyFile.path))
        let form = try await butler(["form", "new", "--template", "building-patrol", "--zone", "east-3", "--place", "5号楼"]).stdout
            .trimmingCharacters(in: .newlines)
        #expect(try await butler(["form", "note", form, "住户电话 13800138000"]).status == 0)
        #expect(try await butler(["sync", "--quiet"]).status == 0)
        let withoutKey = try await butler(["form", "list"], ["BUTLER_KEY_FILE": ""])
        #expect(withoutKey.status == 1 && withoutKey.stderr.contains("key-required"))
        let checkerHome = scratch.url.appendingPathComponent("checker").path
        let checkerToken = try await server.addDevice("checker", role: .supervisor, zones: ["east-3"])
        #expect(try await runCommand("butler", ["--home", checkerHome, "init", "--server", server.url, "--token", checkerToken]).status == 0)
        #expect(try await runCommand("butler", ["--home", checkerHome, "sync", "--quiet"]).status == 0)
        let shown = try JSONParser.parse(try await runCommand("butler", ["--home", checkerHome, "form", "show", form, "--json"]).stdout)
        #expect(shown["notes"]?.arrayValue?.first?["text"] == "住户电话 13800138000")
    }
}
