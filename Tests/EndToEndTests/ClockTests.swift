import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// A device clock set `offset` away from the truth.
struct SkewedClock: WallClock {
    let offset: TimeInterval
    func now() -> Date { Date().addingTimeInterval(offset) }
}

/// Issue 8: devices whose clocks are a day off, and one that was offline for a month, syncing
/// through the server's router in process on each backend (the clocks are the stores' injected
/// clocks: no process needs a faked time).
@Suite("Sync engine: clocks and long absences")
struct ClockTests {
    @Test("devices a day fast and a day slow: causality, not wall time, orders their writes; the server accepts both", arguments: Backend.available)
    func skew(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "skew") { cluster in try await Self.skew(cluster) }
    }

    static func skew(_ cluster: Cluster<InProcessServer>) async throws {
        func device(_ name: String, _ offset: TimeInterval) async throws -> (ClientStore, SyncEngine) {
            let handheld = try await cluster.handheld(name, clock: SkewedClock(offset: offset))
            return (handheld.store, handheld.engine)
        }
        let fast = try await device("fast", 86_400)
        let slow = try await device("slow", -86_400)
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

    @Test("a device offline for 30 days with 2,000 edits comes back and syncs them all", arguments: Backend.available)
    func monthOffline(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "month") { cluster in try await Self.monthOffline(cluster) }
    }

    static func monthOffline(_ cluster: Cluster<InProcessServer>) async throws {
        let token = try await cluster.node.addDevice("away", role: .butler, zones: ["east-3"])
        let home = cluster.scratch.path("away")
        // A month ago, with no coverage at all.
        let past = try ClientStore.open(home: home, clock: SkewedClock(offset: -30 * 86_400))
        try past.initialize(name: "李管家", serverURL: cluster.node.url, token: token)
        var forms: [RecordID] = []
        for n in 0..<2_000 {
            if n % 100 == 0 { forms.append(try past.createForm(template: "building-patrol", zone: Zone("east-3"), place: "\(n / 100)号楼")) }
            try past.addNote(form: forms.last!, item: "hygiene", text: "day \(n / 70) note \(n)")
        }
        let order = try past.createWorkOrder(zone: Zone("east-3"), place: "B1", category: .general, description: "灯坏")
        // Today: back in coverage.
        let today = try ClientStore.open(home: home)
        let report = try await SyncEngine(store: today, transport: cluster.node.transport(token: token)).sync()
        #expect(report.pushed == 2_000 + forms.count + 1)
        #expect(report.refused == 0)
        #expect(try today.status().pendingEdits == 0)
        // The repair reported a month ago and never started is escalated now.
        let escalations = Escalation.evaluate(try today.allRecords(), now: Date())
        #expect(escalations.contains { $0.kind == .repairNotStarted && $0.record == order })
    }
}
