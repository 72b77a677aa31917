import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// Issue 13: a complaint taken through the CLI, on three devices and a real `butler-server`.
@Suite("End to end: complaints and unreachable callbacks", .serialized)
struct ComplaintTests {
    static func id(_ result: CommandResult) -> String {
        let text = result.stdout.trimmingCharacters(in: .newlines)
        #expect(result.status == 0 && !text.isEmpty && !text.contains("\n"), "one id alone on stdout: \(result.stderr)")
        return text
    }

    @Test("two unresolved rounds (one decided by a concurrent unsatisfied callback) escalate to major on every device; only the manager's approval closes it")
    func complaintLifecycle() async throws {
        let cluster = try await Cluster.processes("complaint")
        let (scratch, server) = (cluster.scratch, cluster.node)
        var homes: [String: String] = [:]
        for (name, role) in [("li", DeviceRole.butler), ("zhou", .supervisor), ("chen", .manager)] {
            let token = try await server.addDevice(name, role: role, zones: ["east-3"])
            homes[name] = scratch.url.appendingPathComponent(name).path
            let initialized = try await runCommand("butler", ["--home", homes[name]!, "init", "--server", server.url, "--token", token, "--name", name])
            #expect(initialized.status == 0, "\(initialized.stderr)")
        }
        func on(_ device: String, _ args: [String]) async throws -> CommandResult { try await runCommand("butler", ["--home", homes[device]!] + args) }
        func sync(_ devices: String...) async throws {
            for device in devices {
                let result = try await on(device, ["sync", "--quiet"])
                #expect(result.status == 0, "\(device): \(result.stderr)")
            }
        }
        func show(_ device: String, _ complaint: String) async throws -> JSONValue {
            try JSONParser.parse(try await on(device, ["complaint", "show", complaint, "--json"]).stdout)
        }

        let resident = Self.id(try await on("li", ["resident", "add", "--zone", "east-3", "--household", "7号楼 502", "--name", "王女士"]))
        let cp = Self.id(try await on("li", [
            "complaint", "new", "--zone", "east-3", "--place", "7号楼 502", "--level", "minor", "--description", "楼上漏水", "--resident", resident,
        ]))
        let early = try await on("li", ["complaint", "callback", cp, "--channel", "phone", "--reached", "yes", "--satisfaction", "satisfied"])
        #expect(early.status == 1 && early.stderr.contains("invalid-transition"), "no callback before the fix")
        _ = Self.id(try await on("li", ["complaint", "fix", cp, "--note", "更换止水阀"]))
        try await sync("li", "zhou", "chen")

        // Round 1: the supervisor and the butler call back without seeing each other and disagree.
        _ = Self.id(try await on("zhou", ["complaint", "callback", cp, "--channel", "phone", "--reached", "yes", "--satisfaction", "satisfied"]))
        _ = Self.id(try await on("li", ["complaint", "callback", cp, "--channel", "visit", "--reached", "yes", "--satisfaction", "unsatisfied", "--note", "仍在渗水"]))
        try await sync("zhou", "li", "zhou")
        for device in ["li", "zhou"] {
            let view = try await show(device, cp)
            #expect(view["rounds"]?.arrayValue?.first?["result"] == "unresolved", "\(device): an unsatisfied resident is never hidden by a concurrent satisfied one")
            #expect(view["rounds"]?.arrayValue?.count == 2 && view["status"] == "open")
            #expect(view["rounds"]?.arrayValue?.first?["verdictRule"] == "unresolved-wins")
        }

        // Round 2: fixed again, still unsatisfied: unresolved after two rounds → major.
        _ = Self.id(try await on("li", ["complaint", "fix", cp]))
        _ = Self.id(try await on("li", ["complaint", "callback", cp, "--channel", "phone", "--reached", "yes", "--satisfaction", "unsatisfied"]))
        try await sync("li", "zhou", "chen")
        let escalated = try JSONParser.parse(try await on("zhou", ["complaint", "list", "--escalated", "--json"]).stdout)
        #expect(escalated["complaints"]?.arrayValue?.map { $0["id"] } == [.string(cp)], "the supervisor sees it escalated")
        let major = try await show("zhou", cp)
        #expect(major["level"] == "minor" && major["effectiveLevel"] == "major" && major["escalated"] == true)
        #expect(major["fixDue"] != .null, "round 3 is held to the major deadline")
        let text = try await on("zhou", ["complaint", "list"])
        #expect(text.stdout.contains("ESCALATED"))

        // Not resolved: the manager cannot approve yet; a butler never can.
        let tooEarly = try await on("chen", ["complaint", "approve", cp])
        #expect(tooEarly.status == 1 && tooEarly.stderr.contains("invalid-transition"))
        _ = Self.id(try await on("li", ["complaint", "fix", cp, "--note", "更换管道"]))
        _ = Self.id(try await on("li", ["complaint", "callback", cp, "--channel", "visit", "--reached", "yes", "--satisfaction", "satisfied", "--note", "住户签字"]))
        try await sync("li", "chen")
        #expect(try await show("chen", cp)["awaitingApproval"] == true)
        let byButler = try await on("li", ["complaint", "approve", cp])
        #expect(byButler.status == 1 && byButler.stderr.contains("role-forbidden"))
        let approved = try await on("chen", ["complaint", "approve", cp, "--note", "同意结案"])
        #expect(approved.status == 0 && approved.stdout.isEmpty, "\(approved.stderr)")
        try await sync("chen", "li", "zhou")
        for device in ["li", "zhou", "chen"] {
            let view = try await show(device, cp)
            #expect(view["status"] == "closed" && view["closedAt"] != .null, "\(device)")
            #expect(view["approval"]?["author"] == "chen")
        }
        let open = try JSONParser.parse(try await on("li", ["complaint", "list", "--open", "--json"]).stdout)
        #expect(open["complaints"] == [])
        // The resident's profile lists the complaint (001 §4.1: complaint history).
        let profile = try JSONParser.parse(try await on("zhou", ["resident", "show", resident, "--json"]).stdout)
        #expect(profile["complaints"]?.arrayValue?.map { $0["id"] } == [.string(cp)])
        #expect(profile["complaints"]?.arrayValue?.first?["effectiveLevel"] == "major")
    }

    @Test("a work order's callback closes as unreachable only after 3 attempts that did not reach the resident")
    func callbackClosedUnreachable() async throws {
        let scratch = Scratch("cli-unreachable")
        let home = scratch.path("h").path
        func butler(_ args: [String]) async throws -> CommandResult { try await runCommand("butler", ["--home", home] + args) }
        #expect(try await butler(["init", "--server", "http://127.0.0.1:9", "--token", "bt_x", "--name", "李管家"]).status == 0)
        let wo = Self.id(try await butler(["workorder", "new", "--zone", "east-3", "--place", "5号楼 301", "--category", "general"]))
        #expect(try await butler(["workorder", "start", wo]).status == 0)
        #expect(try await butler(["workorder", "complete", wo]).status == 0)
        for _ in 0..<2 { #expect(try await butler(["callback", "log", wo, "--channel", "phone", "--reached", "no"]).status == 0) }
        let early = try await butler(["callback", "close", wo, "--unreachable"])
        #expect(early.status == 1 && early.stderr.contains("invalid-transition") && early.stderr.contains("2 so far"))
        let noReason = try await butler(["callback", "close", wo])
        #expect(noReason.status != 0)
        #expect(try await butler(["callback", "log", wo, "--channel", "sms", "--reached", "no"]).status == 0)
        let closed = try await butler(["callback", "close", wo, "--unreachable", "--note", "三次未联系上"])
        #expect(closed.status == 0 && closed.stdout.isEmpty, "\(closed.stderr)")
        let view = try JSONParser.parse(try await butler(["callback", "show", wo, "--json"]).stdout)
        #expect(view["outcome"] == "closed-unreachable")
    }
}
