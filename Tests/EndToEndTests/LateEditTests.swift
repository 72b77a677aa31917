import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// Issue 13's reproduction, end to end through the real server router: a late edit no longer
/// erases what a round submitted.
@Suite("Late edits keep what was submitted")
struct LateEditTests {
    let zone = try! Zone("east-3")

    @Test("Li submits a fire-door defect; Wang, offline and unaware of the submission, marks it ok: every device shows the late ok flagged beside the submitted defect", arguments: Backend.available)
    func lateOkKeepsSubmittedDefect(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "late") { cluster in
            let li = try await cluster.handheld("li", displayName: "李管家")
            let wang = try await cluster.handheld("wang", displayName: "王管家")
            let form = try li.store.createForm(template: "building-patrol", zone: zone, place: "3号楼2单元 楼梯间")
            try li.store.setResult(form: form, item: "fire-door", result: .defect, note: "闭门器损坏")
            _ = try await li.engine.sync()
            _ = try await wang.engine.sync()
            try li.store.submit(form: form)
            _ = try await li.engine.sync()
            // Wang has not synced since: his handheld still shows a draft and lets him edit.
            try wang.store.setResult(form: form, item: "fire-door", result: .ok)
            #expect(try await wang.engine.sync().refused == 0)
            _ = try await li.engine.sync()

            for device in [li, wang] {
                let conflicts = try device.store.form(form).conflicts.filter { $0.field.rawValue == "items/fire-door/result" }
                #expect(conflicts.count == 1)
                #expect(conflicts.first?.rule == .lateEdit)
                #expect(conflicts.first?.chosen == ["ok"])
                #expect(conflicts.first?.submitted == ["defect"], "the submitted defect stays visible on \(device.name)")
            }
            #expect(try li.store.allRecords().map(\.contentHash) == wang.store.allRecords().map(\.contentHash))
        }
    }
}
