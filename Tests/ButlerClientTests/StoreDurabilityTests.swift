@testable import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// What keeps a device cheap to run without weakening what it promises: the durability it commits
/// with, no write for a value that did not change, one id read without reading them all.
@Suite("Client store: durability and cheap paths")
struct StoreDurabilityTests {
    let zone = try! Zone("east-3")

    @Test("durability: every store commits with synchronous = FULL unless the simulation asks for process-crash durability")
    func durabilityModes() throws {
        let dir = Scratch("store")
        let real = try ClientStore.open(home: dir.url.appendingPathComponent("real"))
        #expect(real.durability == .powerLoss)
        #expect(try real.synchronousMode() == 2)
        let simulated = try ClientStore.open(home: dir.url.appendingPathComponent("sim"), durability: .processCrash)
        #expect(try simulated.synchronousMode() == 1)
        // Its edits still commit, and a re-open (the simulation's crash) finds them.
        try simulated.initialize(name: "李管家", serverURL: "http://127.0.0.1:9", token: "bt_x")
        let form = try simulated.createForm(template: "building-patrol", zone: zone, place: "5号楼")
        let reopened = try ClientStore.open(home: dir.url.appendingPathComponent("sim"), durability: .processCrash)
        #expect(try reopened.form(form).place == "5号楼")
    }

    @Test("a sync that learns nothing new writes nothing: the same device info and cursor commit no page")
    func unchangedMetaWritesNothing() throws {
        let dir = Scratch("store")
        let store = try ClientStore.open(home: dir.url)
        try store.initialize(name: "李管家", serverURL: "http://127.0.0.1:9", token: "bt_x")
        let info = DeviceInfo(name: "li", role: .butler, zones: [zone])
        try store.setDeviceInfo(info)
        try store.applyPull(PullResponse(changes: [], cursor: "7", more: false))
        let wal = dir.url.appendingPathComponent("butler.sqlite-wal").path
        func walSize() throws -> Int { try #require(FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int) }
        let before = try walSize()
        try store.setDeviceInfo(info)
        try store.applyPull(PullResponse(changes: [], cursor: "7", more: false))
        #expect(try walSize() == before, "no WAL frame for values that did not change")
        #expect(try store.cursor() == "7")
        try store.setDeviceInfo(DeviceInfo(name: "li", role: .supervisor, zones: [zone]))
        #expect(try walSize() > before, "a changed value is written")
        #expect(try store.identity().device?.role == .supervisor)
    }

    @Test("recordCount(of:), recordID(of:at:) and forms(_:) agree with recordIDs(of:) and form(_:)")
    func recordIDAtIndex() throws {
        let dir = Scratch("store")
        let store = try ClientStore.open(home: dir.url)
        try store.initialize(name: "李管家", serverURL: "http://127.0.0.1:9", token: "bt_x")
        for n in 0..<5 { _ = try store.createForm(template: "building-patrol", zone: zone, place: "\(n)号楼") }
        _ = try store.createWorkOrder(zone: zone, place: "B1", category: .urgentUtility, description: nil)
        let ids = try store.recordIDs(of: .inspectionForm)
        #expect(try store.recordCount(of: .inspectionForm) == 5)
        #expect(try store.recordCount(of: .workOrder) == 1)
        #expect(try store.recordCount(of: .complaint) == 0)
        #expect(try (0..<5).map { try store.recordID(of: .inspectionForm, at: $0) } == ids)
        #expect(try store.recordID(of: .inspectionForm, at: 5) == nil)
        #expect(try store.recordIDs(of: .inspectionForm, at: [4, 0, 4]) == [ids[4], ids[0], ids[4]])
        #expect(try store.forms([ids[2], ids[0]]).map(\.id) == [ids[2], ids[0]])
        #expect(try store.forms(ids).map(\.place) == ids.map { try store.form($0).place })
        #expect(throws: ClientError.self) { try store.forms([ids[0], try RecordID("form-missing")]) }
    }
}
