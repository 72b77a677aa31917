import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 15's pipelined catch-up against a real `butler-server`: a new device's `butler sync` is
/// killed with SIGKILL mid-catch-up several times; each run resumes from the cursor stored with
/// the last page it stored, and the device ends with every record once, byte for byte as the
/// server serves it.
@Suite("End to end: an interrupted catch-up resumes", .serialized)
struct PullInterruptionTests {
    @Test("§ pull: `butler sync` SIGKILLed mid-catch-up resumes without gaps or duplicates")
    func killedCatchUp() async throws {
        let cluster = try await Cluster.processes("pull-kill")
        defer { cluster.terminate() }
        let server = cluster.node
        let zone = try Zone("east-3")
        let writer = server.transport(token: try await server.addDevice("li", role: .butler, zones: ["east-3"]))
        let author = try Author(replica: ReplicaID("li"), name: "李管家")
        let total = 12_000
        for start in stride(from: 0, to: total, by: 500) {
            let deltas = try (start..<start + 500).map { i in
                try WorkOrder.create(
                    id: RecordID("wo-li-\(i)"), zone: zone, place: "\(i % 40)号楼", category: .general, description: "灯坏",
                    reportedAt: Date(timeIntervalSince1970: 1_795_000_000), stamp: EditStamp(author: author, time: HLCTimestamp(millis: 1_795_000_000_000 + Int64(i))))
            }
            let response = try await writer.push(PushRequest(deltas: deltas))
            #expect(response.results.allSatisfy { $0.status == .accepted })
        }
        let token = try await server.addDevice("newcomer", role: .butler, zones: ["east-3"])
        let home = cluster.scratch.url.appendingPathComponent("newcomer")
        #expect(try await runCommand("butler", ["--home", home.path, "init", "--server", server.url, "--token", token]).status == 0)

        // Killed after a growing delay until one run gets to the end by itself.
        var kills = 0
        var cursors: [String?] = []
        var finished = false
        for attempt in 0..<40 {
            let process = try ChildProcess(Binaries.url("butler"), ["--home", home.path, "sync", "--quiet"], captureStdout: false, captureStderr: false)
            try await Task.sleep(for: .milliseconds(150 + 60 * attempt))
            if process.isRunning, await process.stop(SIGKILL).signalled {
                kills += 1
                cursors.append(try ClientStore.open(home: home).cursor())
                continue
            }
            let exit = await process.exit()
            #expect(exit.status == 0 && !exit.signalled)
            finished = true
            break
        }
        #expect(kills >= 1, "at least one run was cut mid-catch-up")
        if !finished {
            // A loaded machine (the whole suite at once) may need longer than the last delay for
            // the rest of the catch-up: the next run, left alone, resumes where the kills left it.
            let last = try await runCommand("butler", ["--home", home.path, "sync", "--quiet"], timeout: .seconds(300))
            #expect(last.status == 0 && !last.signalled, "the run after \(kills) kills: \(last.stderr)")
        }
        let progress = cursors.compactMap { $0.flatMap(Int64.init) }
        #expect(progress == progress.sorted(), "the stored cursor only moves forward: \(cursors)")

        // Every record once, stored as the server serves it, and the cursor at the feed's end.
        let store = try ClientStore.open(home: home)
        var served: [RecordID: [UInt8]] = [:]
        var cursor: String?
        let reader = server.transport(token: token)
        while true {
            let page = try await reader.pull(cursor: cursor, limit: 5000)
            for (index, change) in page.changes.enumerated() { served[change.id] = Array(try #require(page.received[index])) }
            cursor = page.cursor
            if !page.more { break }
        }
        #expect(served.count == total)
        #expect(try store.cursor() == cursor)
        let held = try store.allRecords()
        #expect(held.count == total, "no gap, no duplicate")
        for state in held { #expect(served[state.id] == state.canonicalJSON) }
    }
}
