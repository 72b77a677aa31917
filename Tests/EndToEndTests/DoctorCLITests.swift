import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// `butler doctor` (issue 15) as built executables against a live `butler-server`: its JSON keys,
/// its exit codes (0 all well, 1 needs a person, 75 server unreachable) and `--repair`.
@Suite("End to end: butler doctor", .serialized)
struct DoctorCLITests {
    @Test("doctor --json: the contract's keys; 0 when all is well, 1 for a revoked handheld, 75 with the server stopped; --repair syncs")
    func doctor() async throws {
        let cluster = try await Cluster.processes("doctor")
        defer { cluster.terminate() }
        let (scratch, server) = (cluster.scratch, cluster.node)
        func butler(_ home: String, _ args: [String]) async throws -> CommandResult { try await runCommand("butler", ["--home", home] + args) }
        let li = scratch.url.appendingPathComponent("li").path
        let wang = scratch.url.appendingPathComponent("wang").path
        for (home, name) in [(li, "li"), (wang, "wang")] {
            let token = try await server.addDevice(name, role: .butler, zones: ["east-3"])
            #expect(try await butler(home, ["init", "--server", server.url, "--token", token, "--name", name]).status == 0)
        }
        let form = try await butler(li, ["form", "new", "--template", "building-patrol", "--zone", "east-3", "--place", "3号楼2单元 楼梯间"])
        let formID = form.stdout.trimmingCharacters(in: .newlines)
        #expect(try await butler(li, ["form", "set", formID, "stairwell-lights", "--result", "defect"]).status == 0)

        // Before any sync: the edit waits; nothing needs a person.
        let waiting = try await butler(li, ["doctor", "--json"])
        let before = try JSONParser.parse(waiting.stdout)
        #expect(waiting.status == 0, "\(waiting.stderr)")
        #expect(before["pendingEdits"] == 2)
        #expect((before["oldestPendingSeconds"]?.intValue ?? -1) >= 0)
        #expect(before["zones"]?["east-3"]?["checksum"] == "unknown")

        // --repair syncs first: then the zone is checked against the server.
        let repaired = try await butler(li, ["doctor", "--repair", "--json"])
        #expect(repaired.status == 0, "\(repaired.stdout) \(repaired.stderr)")
        let report = try JSONParser.parse(repaired.stdout)
        for key in ["pendingEdits", "oldestPendingSeconds", "refused", "partialUploads", "clockOffsetMs", "zones", "server", "lastError"] {
            #expect(report[key] != nil, "doctor --json has \(key)")
        }
        #expect(report["pendingEdits"] == 0 && report["oldestPendingSeconds"] == .null && report["refused"] == [] && report["partialUploads"] == [])
        #expect(report["zones"]?["east-3"]?["checksum"] == "ok")
        #expect(report["server"]?["reachable"] == true && report["server"]?["protocol"] == 1)
        #expect(abs(report["clockOffsetMs"]?.intValue ?? .max) < 5_000, "one machine: the clocks agree")
        #expect(report["repair"]?["synced"] == true)

        let wangSync = try await butler(wang, ["sync", "--quiet"])
        #expect(wangSync.status == 0, "\(wangSync.stderr)")
        let human = try await butler(wang, ["doctor"])
        #expect(human.status == 0 && human.stdout.contains("zone east-3") && human.stdout.contains("checksum ok") && human.stdout.contains("all well"), "\(human.stdout)")

        // A revoked handheld needs a person: 1.
        try await server.revokeDevice("wang")
        let revoked = try await butler(wang, ["doctor", "--json"])
        #expect(revoked.status == 1, "\(revoked.stdout)")
        #expect(try JSONParser.parse(revoked.stdout)["server"]?["error"]?["code"] == "token-revoked")

        // The server stopped: 75, and the last findings of the zone stay.
        await server.stop()
        let down = try await butler(li, ["doctor", "--json"])
        #expect(down.status == 75, "\(down.stdout) \(down.stderr)")
        let offline = try JSONParser.parse(down.stdout)
        #expect(offline["server"]?["reachable"] == false && offline["server"]?["protocol"] == .null)
        #expect(offline["zones"]?["east-3"]?["checksum"] == "ok")
        let failed = try await butler(li, ["sync", "--quiet"])
        #expect(failed.status == 75)
        let afterFailure = try JSONParser.parse(try await butler(li, ["doctor", "--json"]).stdout)
        #expect(afterFailure["lastError"]?["code"] == "unreachable", "\(afterFailure)")
    }
}
