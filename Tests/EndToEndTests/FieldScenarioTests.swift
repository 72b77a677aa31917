import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// DOMAIN.md "Why it is a sync problem", played by three real client stores against the server's
/// router in process (no sockets), on each backend, with the server cut off while they edit.
@Suite("Sync engine: the field scenario")
struct FieldScenarioTests {
    @Test("two butlers and a supervisor edit offline; after sync every store is byte-identical and every rule holds", arguments: Backend.available)
    func fieldScenario(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "field") { cluster in try await Self.fieldScenario(cluster) }
    }

    static func fieldScenario(_ cluster: Cluster<InProcessServer>) async throws {
        let scratch = cluster.scratch
        let server = cluster.node
        let li = try await cluster.handheld("li", displayName: "李管家")
        let wang = try await cluster.handheld("wang", displayName: "王管家")
        let zhou = try await cluster.handheld("zhou", displayName: "周主管", role: .supervisor)
        let zone = try Zone("east-3")

        // In coverage: Li opens the form and a work order; Wang gets the draft; Li submits; Zhou gets it.
        let form = try li.store.createForm(template: "building-patrol", zone: zone, place: "3号楼2单元 楼梯间")
        let order = try li.store.createWorkOrder(zone: zone, place: "5号楼 301", category: .dangerous, description: "爆管")
        try li.store.completeWorkOrder(order)
        _ = try await li.engine.sync()
        _ = try await wang.engine.sync()
        // Li finds the light out after Wang's device last synced: the two results will be concurrent.
        try li.store.setResult(form: form, item: "stairwell-lights", result: .defect, note: "3F 走廊灯不亮")
        try li.store.submit(form: form)
        _ = try await li.engine.sync()
        _ = try await zhou.engine.sync()

        // No coverage: the server is cut off while everyone works.
        server.setReachable(false)
        let photoFile = scratch.url.appendingPathComponent("IMG_0412.jpg")
        try writePhoto(photoFile, bytes: 1_500_000, seed: 7)
        // Wang, who never saw the submission, marks two more defects and photographs one — and says the lights are ok.
        try wang.store.setResult(form: form, item: "stairwell-lights", result: .ok, note: "灯都亮")
        try wang.store.setResult(form: form, item: "walls-ceiling", result: .defect, note: "墙皮脱落")
        try wang.store.setResult(form: form, item: "fire-door", result: .defect)
        let sha = try wang.store.attachPhoto(form: form, file: photoFile, item: "walls-ceiling")
        // Li attaches the same picture (sent to him by Wang) to the lights item.
        // Li cannot add it: his device knows the form is submitted, and refuses before copying any bytes.
        do {
            try li.store.attachPhoto(form: form, file: photoFile, item: "stairwell-lights")
            Issue.record("a photo was added to a form this device knows is submitted")
        } catch let error as ClientError {
            #expect(error.code.rawValue == "form-submitted")
        }
        // The supervisor reviews with a note; the desk (Zhou) phones the resident while Li visits.
        try zhou.store.review(form: form, note: "已复核，灯具报修")
        // Both follow the repair's completion (issue 13: an attempt may not predate it), minutes apart.
        try zhou.store.logCallback(workOrder: order, channel: .phone, reached: true, satisfaction: .satisfied, note: "电话回访", at: Date().addingTimeInterval(60))
        try li.store.logCallback(workOrder: order, channel: .visit, reached: true, satisfaction: .unsatisfied, note: "仍有渗水", at: Date().addingTimeInterval(300))
        await #expect(throws: ClientError.self) { _ = try await wang.engine.sync() }
        #expect(try wang.store.status().pendingEdits > 0, "nothing was dropped while the server was down")

        // Coverage returns.
        server.setReachable(true)
        for device in [li, wang, zhou, li, wang, zhou] { _ = try await device.engine.sync() }

        // Every store holds byte-identical states.
        let states = try [li, wang, zhou].map { device in
            Dictionary(uniqueKeysWithValues: try device.store.allRecords().map { ($0.id, $0.contentHash) })
        }
        #expect(states[0] == states[1] && states[1] == states[2])
        #expect(states[0].count == 4, "form, work order, callback record, photo")

        // The rules' outcomes.
        let view = try zhou.store.form(form)
        #expect(view.items["stairwell-lights"]?.result == .defect, "defect-wins over Wang's concurrent ok")
        #expect(view.items["walls-ceiling"]?.result == .defect)
        #expect(view.items["walls-ceiling"]?.photos == [sha])
        #expect(view.status.state == .reviewed)
        #expect(view.reviewNotes.map(\.text) == ["已复核，灯具报修"])
        #expect(Set(view.items["stairwell-lights"]!.notes.map(\.author)) == ["李管家", "王管家"])
        let late = Set(view.conflicts.filter { $0.rule == .lateEdit }.map(\.field.rawValue))
        #expect(late.isSuperset(of: ["items/walls-ceiling/result", "items/fire-door/result"]), "Wang's edits are flagged for review: \(late)")
        #expect(view.conflicts.contains { $0.rule == .defectWins })
        let callbacks = try #require(try li.store.callbacks(workOrder: order))
        #expect(callbacks.attempts.map(\.channel) == [.phone, .visit])
        #expect(callbacks.outcome == .unsatisfied, "the later visit found the resident unsatisfied")

        // The photo is stored once on the server and reached every device.
        let blobs = try FileManager.default.contentsOfDirectory(atPath: server.configuration.blobDirectory.path).filter { $0 != "partial" }
        #expect(blobs == [sha])
        for device in [li, wang, zhou] {
            #expect(FileManager.default.fileExists(atPath: device.store.blobURL(sha).path))
            #expect(try device.store.status().pendingEdits == 0)
        }
    }

    @Test("a revoked device is refused at once and its pending edits are not accepted", arguments: Backend.available)
    func revocation(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "revoke") { cluster in
            let li = try await cluster.handheld("li", displayName: "李管家")
            _ = try li.store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "p")
            _ = try await li.engine.sync()
            let form = try li.store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "q")
            try await cluster.node.revokeDevice("li")
            do {
                _ = try await li.engine.sync()
                Issue.record("a revoked device synced")
            } catch let error as ClientError {
                #expect(error.code == .tokenRevoked)
            }
            #expect(try li.store.record(form) != nil, "kept on the device for the supervisor to recover")
        }
    }
}
