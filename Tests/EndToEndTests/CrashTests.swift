import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 3's crash safety: `butler` processes editing and syncing are killed with SIGKILL at random
/// moments; every acknowledged edit survives exactly once and a sync leaves the server with the
/// same state as the handheld.
@Suite("End to end: client crash safety", .serialized)
struct CrashTests {
    @Test("at least 50 SIGKILLs of butler mid-edit and mid-sync lose and duplicate nothing")
    func killedClients() async throws {
        let cluster = try await Cluster.processes("crash")
        let (scratch, server) = (cluster.scratch, cluster.node)
        let token = try await server.addDevice("li", role: .butler, zones: ["east-3"])
        let checkerToken = try await server.addDevice("checker", role: .supervisor, zones: ["east-3"])
        let home = scratch.url.appendingPathComponent("li").path
        func butler(_ args: [String]) async throws -> CommandResult { try await runCommand("butler", ["--home", home] + args) }
        #expect(try await butler(["init", "--server", server.url, "--token", token, "--name", "李管家"]).status == 0)
        let form = try await butler(["form", "new", "--template", "building-patrol", "--zone", "east-3", "--place", "3号楼"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let order = try await butler(["workorder", "new", "--zone", "east-3", "--place", "B1", "--category", "general"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let photos = try (0..<3).map { n -> String in
            let url = scratch.url.appendingPathComponent("p\(n).jpg")
            try writePhoto(url, bytes: 4_000_000, seed: UInt64(n + 1))
            return url.path
        }

        var acknowledgedNotes = Set<String>()
        var acknowledgedAttempts = Set<String>()
        var kills = 0
        var iterations = 0
        let deadline = ContinuousClock.now + .seconds(150)
        while (kills < 50 || iterations < 120), iterations < 800, ContinuousClock.now < deadline {
            iterations += 1
            let tag = "k\(iterations)"
            let args: [String]
            switch iterations % 5 {
            case 0: args = ["sync", "--quiet"]
            case 1, 2: args = ["form", "note", form, tag]
            case 3: args = ["callback", "log", order, "--channel", "phone", "--reached", "no", "--note", tag]
            default: args = ["photo", "add", form, photos[iterations % photos.count], "--item", "tiles"]
            }
            let process = try ChildProcess(Binaries.url("butler"), ["--home", home] + args, captureStdout: false, captureStderr: false)
            // Half the commands are killed at a random moment (start-up, mid-transaction, mid-sync);
            // the others run to the end, so plenty of edits are acknowledged.
            let victim = Bool.random()
            if victim { try await Task.sleep(for: .microseconds(Int.random(in: 0...40_000))) }
            if victim, process.isRunning {
                if await process.stop(SIGKILL).signalled { kills += 1 }
                continue
            }
            let exit = await process.exit()
            guard exit.status == 0, !exit.signalled else { continue }  // a failed sync (server busy) acknowledges nothing
            if args[0] == "form" { acknowledgedNotes.insert(tag) }
            if args[0] == "callback" { acknowledgedAttempts.insert(tag) }
        }
        #expect(kills >= 50, "killed \(kills) processes in \(iterations) iterations")
        print("FAULT-REPORT client-sigkill injected=\(kills) acknowledged=\(acknowledgedNotes.count + acknowledgedAttempts.count)")

        // Back to normal: sync until everything is through (bounded).
        var synced = false
        for _ in 0..<10 where !synced {
            synced = try await butler(["sync", "--quiet"]).status == 0
        }
        #expect(synced)

        // The handheld holds every acknowledged edit exactly once, and nothing twice.
        let local = try JSONParser.parse(try await butler(["form", "show", form, "--json"]).stdout)
        let texts = (local["notes"]?.arrayValue ?? []).compactMap { $0["text"]?.stringValue }
        #expect(Set(texts).count == texts.count, "no note twice")
        #expect(acknowledgedNotes.isSubset(of: Set(texts)), "every acknowledged note is there")
        let callbacks = try JSONParser.parse(try await butler(["callback", "show", order, "--json"]).stdout)
        let attempts = (callbacks["attempts"]?.arrayValue ?? []).compactMap { $0["note"]?.stringValue }
        #expect(Set(attempts).count == attempts.count, "no attempt twice")
        #expect(acknowledgedAttempts.isSubset(of: Set(attempts)))

        // The server holds the same state: a fresh device pulls it and sees byte-identical views.
        let checkerHome = scratch.url.appendingPathComponent("checker").path
        func checker(_ args: [String]) async throws -> CommandResult { try await runCommand("butler", ["--home", checkerHome] + args) }
        #expect(try await checker(["init", "--server", server.url, "--token", checkerToken]).status == 0)
        #expect(try await checker(["sync", "--quiet"]).status == 0)
        #expect(try await checker(["form", "show", form, "--json"]).stdout == (try await butler(["form", "show", form, "--json"]).stdout))
        #expect(try await checker(["callback", "show", order, "--json"]).stdout == (try await butler(["callback", "show", order, "--json"]).stdout))
        let blobs = try FileManager.default.contentsOfDirectory(atPath: server.data.appendingPathComponent("blobs").path).filter { $0 != "partial" }
        #expect(Set(blobs).count == blobs.count && blobs.count <= 3, "each photo stored once")
        await server.stop()
    }
}
