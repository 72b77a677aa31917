import ButlerClient
import ButlerModel
import Foundation
import Testing

/// A device clock set `offset` away from the truth.
struct SkewedClock: WallClock {
    let offset: TimeInterval
    func now() -> Date { Date().addingTimeInterval(offset) }
}

/// Issue 8: devices whose clocks are a day off, and one that was offline for a month.
@Suite("End to end: clocks and long absences", .serialized)
struct ClockTests {
    @Test("devices a day fast and a day slow: causality, not wall time, orders their writes; the server accepts both")
    func skew() async throws {
        let scratch = Scratch("skew")
        let server = ServerProcess(data: scratch.url.appendingPathComponent("server"))
        let tokens = (try server.addDevice("fast", role: "butler", zones: "east-3"), try server.addDevice("slow", role: "butler", zones: "east-3"))
        try server.start()
        defer { server.stop() }
        func device(_ name: String, _ token: String, _ offset: TimeInterval) throws -> (ClientStore, SyncEngine) {
            let store = try ClientStore.open(home: scratch.url.appendingPathComponent(name), clock: SkewedClock(offset: offset))
            try store.initialize(name: name, serverURL: server.url, token: token)
            return (store, SyncEngine(store: store, transport: CurlTransport(configuration: .init(baseURL: server.url, token: token))))
        }
        let fast = try device("fast", tokens.0, 86_400)
        let slow = try device("slow", tokens.1, -86_400)
        let form = try fast.0.createForm(template: "building-patrol", zone: Zone("east-3"), place: "3号楼")
        try fast.0.setResult(form: form, item: "tiles", result: .ok, note: "fast clock")
        _ = try await fast.1.sync()
        _ = try await slow.1.sync()
        // The slow device has seen the fast one's write and overrides it, two days "earlier" by its wall clock.
        try slow.0.setResult(form: form, item: "tiles", result: .defect, note: "slow clock")
        try slow.0.setResult(form: form, item: "walls-ceiling", result: .ok)
        _ = try await slow.1.sync()
        _ = try await fast.1.sync()
        let view = try fast.0.form(form)
        #expect(view.items["tiles"]?.result == .defect, "the causally later write wins")
        #expect(view.conflicts.isEmpty)
        #expect(try fast.0.record(form) == (try slow.0.record(form)))
        // A write stamped by the slow device orders after everything it observed, despite its clock.
        let state = try #require(try slow.0.record(form))
        let tiles = state.siblings(try FieldPath("items", "tiles", "result"))
        let walls = state.siblings(try FieldPath("items", "walls-ceiling", "result"))
        #expect(tiles.count == 1 && walls.count == 1)
        #expect(walls[0].entry.time > tiles[0].entry.time)
        // Deadlines use the times recorded in the records (here: when the fast device says it created
        // the form), never the order of arrival.
        #expect(view.createdAt.map { $0 > Date() } == true)
    }

    @Test("a device offline for 30 days with 2,000 edits comes back and syncs them all")
    func monthOffline() async throws {
        let scratch = Scratch("month")
        let server = ServerProcess(data: scratch.url.appendingPathComponent("server"))
        let token = try server.addDevice("away", role: "butler", zones: "east-3")
        try server.start()
        defer { server.stop() }
        let home = scratch.url.appendingPathComponent("away")
        // A month ago, with no coverage at all.
        let past = try ClientStore.open(home: home, clock: SkewedClock(offset: -30 * 86_400))
        try past.initialize(name: "李管家", serverURL: server.url, token: token)
        var forms: [RecordID] = []
        for n in 0..<2_000 {
            if n % 100 == 0 { forms.append(try past.createForm(template: "building-patrol", zone: Zone("east-3"), place: "\(n / 100)号楼")) }
            try past.addNote(form: forms.last!, item: "hygiene", text: "day \(n / 70) note \(n)")
        }
        let order = try past.createWorkOrder(zone: Zone("east-3"), place: "B1", category: .general, description: "灯坏")
        // Today: back in coverage.
        let today = try ClientStore.open(home: home)
        let report = try await SyncEngine(store: today, transport: CurlTransport(configuration: .init(baseURL: server.url, token: token))).sync()
        #expect(report.pushed == 2_000 + forms.count + 1)
        #expect(report.refused == 0)
        #expect(try today.status().pendingEdits == 0)
        // The repair reported a month ago and never started is escalated now.
        let escalations = Escalation.evaluate(try today.allRecords(), now: Date())
        #expect(escalations.contains { $0.kind == .repairNotStarted && $0.record == order })
    }
}
