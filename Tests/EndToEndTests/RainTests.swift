import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// A leak repair waiting for rain (issue 13), with a real `butler-server` and real `butler`
/// processes: the callback says "waiting for rain" until another handheld records rain on a day
/// after the repair and both sync; then it is due at the end of that day, estate local time.
@Suite("End to end: rain days and leak callbacks", .serialized)
struct RainTests {
    @Test("leak completed → waiting for rain → Wang records rain the next day and syncs → Li syncs → due at the end of that day")
    func leakWaitsForRain() async throws {
        let cluster = try await Cluster.processes("rain")
        defer { cluster.terminate() }
        let server = cluster.node
        let calendar = EstateCalendar()  // the server's default, +08:00

        // The front desk's handheld dispatched the leak repair three days ago and it was completed then.
        let completed = Date().addingTimeInterval(-3 * 86_400)
        let desk = try await cluster.handheld("desk", displayName: "前台", clock: FixedWallClock(completed))
        let order = try desk.store.createWorkOrder(zone: Zone("east-3"), place: "5号楼 301", category: .leak, description: "天花渗水")
        try desk.store.completeWorkOrder(order)
        #expect(try await desk.engine.sync().refused == 0)

        func butler(_ name: String) async throws -> @Sendable ([String]) async throws -> CommandResult {
            let token = try await server.addDevice(name, role: .butler, zones: ["east-3"])
            let home = cluster.scratch.path(name).path
            let run: @Sendable ([String]) async throws -> CommandResult = { args in try await runCommand("butler", ["--home", home] + args) }
            #expect(try await run(["init", "--server", server.url, "--token", token]).status == 0)
            return run
        }
        let li = try await butler("li")
        let wang = try await butler("wang")
        #expect(try await li(["sync", "--quiet"]).status == 0)

        var shown = try JSONParser.parse(try await li(["callback", "show", order.rawValue, "--json"]).stdout)
        #expect(shown["due"] == .null)
        #expect(shown["waitingFor"] == "rain")
        #expect(try await li(["callback", "show", order.rawValue]).stdout.contains("waiting for rain"))

        // Bad dates are refused with a clear error and change nothing.
        let tomorrow = EstateCalendar.Day(ordinal: calendar.day(of: Date()).ordinal + 1)
        let future = try await wang(["rain", "add", tomorrow.description])
        #expect(future.status == 1 && future.stderr.contains("invalid-value") && future.stdout.isEmpty)
        let malformed = try await wang(["rain", "add", "2026-02-30"])
        #expect(malformed.status == 1 && malformed.stderr.contains("invalid-argument"))
        #expect(try JSONParser.parse(try await wang(["status", "--json"]).stdout)["pendingEdits"] == 0)

        // Wang records rain on the day after the repair (in every zone his handheld works in: east-3).
        let rainDay = EstateCalendar.Day(ordinal: calendar.day(of: completed).ordinal + 1)
        let added = try await wang(["rain", "add", rainDay.description, "--note", "午后大雨"])
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.stdout == "rain:east-3:\(rainDay)\n", "the record id alone on stdout")
        #expect(try await wang(["sync", "--quiet"]).status == 0)

        // Li still waits until her handheld syncs.
        shown = try JSONParser.parse(try await li(["callback", "show", order.rawValue, "--json"]).stdout)
        #expect(shown["waitingFor"] == "rain")
        #expect(try await li(["sync", "--quiet"]).status == 0)
        shown = try JSONParser.parse(try await li(["callback", "show", order.rawValue, "--json"]).stdout)
        let endOfRainDay = calendar.start(of: EstateCalendar.Day(ordinal: rainDay.ordinal + 1))
        #expect(shown["due"] == .string(Timestamp.format(endOfRainDay)))
        #expect(shown["waitingFor"] == nil)

        let list = try JSONParser.parse(try await li(["rain", "list", "--json"]).stdout)
        #expect(list.arrayValue?.count == 1)
        #expect(list.arrayValue?.first?["day"] == .string(rainDay.description))
        #expect(list.arrayValue?.first?["reports"]?.arrayValue?.first?["by"] == "wang")
        #expect(list.arrayValue?.first?["reports"]?.arrayValue?.first?["note"] == "午后大雨")

        // Li records the same day too, offline: one rain day, two reports, nothing refused.
        #expect(try await li(["rain", "add", rainDay.description, "--zone", "east-3"]).stdout == "rain:east-3:\(rainDay)\n")
        #expect(try await li(["sync", "--quiet"]).status == 0)
        // A butler withdraws only what his handheld reported; Li's report keeps the day rainy.
        #expect(try await wang(["rain", "remove", rainDay.description]).status == 0)
        #expect(try await wang(["sync", "--quiet"]).status == 0)
        #expect(try await li(["sync", "--quiet"]).status == 0)
        shown = try JSONParser.parse(try await li(["callback", "show", order.rawValue, "--json"]).stdout)
        #expect(shown["due"] == .string(Timestamp.format(endOfRainDay)))
        await cluster.stop()
    }
}
