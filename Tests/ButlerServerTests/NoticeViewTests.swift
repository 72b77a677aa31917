import ButlerModel
import ButlerServer
import ButlerTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Rectification notices on the server (001 §4.3.1.1): the escalation view lists an overdue
/// notice with its evidence (the server's clock is the fixture's fixed one), and a butler's device
/// may not verify.
@Suite("Server: rectification notices")
struct NoticeViewTests {
    typealias F = ServerFixture

    @Test("an overdue notice is escalated with its evidence; a butler's verification is refused, a supervisor's accepted", arguments: Backend.available)
    func overdueAndVerify(_ backend: Backend) async throws {
        try await ServerFixture.with(backend) { f in
            try await f.app().test(.router) { client in
                var form = Deltas.form()
                let create = form
                let sha = SHA256Hasher.hex(of: Array("before".utf8))
                var deltas = [create]
                deltas.append(try InspectionForm.setResult(
                    &form, item: "hygiene", result: .defect, at: F.now.addingTimeInterval(-2 * 86_400), stamp: Deltas.stamp("li-dev", 1_795_000_001_000)))
                let raised = try InspectionForm.addNotice(
                    &form, item: "hygiene", party: .cleaning, description: "清理杂物", deadline: F.now.addingTimeInterval(-3_600),
                    at: F.now.addingTimeInterval(-2 * 86_400), stamp: Deltas.stamp("li-dev", 1_795_000_002_000))
                deltas.append(raised.delta)
                deltas.append(try InspectionForm.attachNoticePhoto(&form, notice: raised.id, stage: .before, sha256: sha, stamp: Deltas.stamp("li-dev", 1_795_000_003_000)))
                let pushed = try PushResponse(json: F.json(try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("li"), body: F.body(Deltas.push(deltas)))))
                #expect(pushed.results.allSatisfy { $0.status == .accepted })

                let view = try F.json(try await client.execute(uri: "/v1/views/escalations", method: .get, headers: f.headers("zhou")))
                let escalation = try #require(view["escalations"]?.arrayValue?.first { $0["kind"] == "rectification-overdue" })
                #expect(escalation["record"] == "form-1")
                #expect(escalation["notice"] == .string("form-1/\(raised.id)"))
                #expect(escalation["evidence"] == [["sha256": .string(sha), "stage": "before"]])

                // Li's device verifying its own notice: refused, nothing stored.
                var li = form
                let verify = try InspectionForm.progressNotice(&li, notice: raised.id, to: .verified, note: nil, at: F.now, stamp: Deltas.stamp("li-dev", 1_795_000_004_000))
                let refused = try PushResponse(json: F.json(try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("li"), body: F.body(Deltas.push([verify])))))
                #expect(refused.results.map(\.status) == [.refused])
                #expect(refused.results.first?.code == .roleForbidden)
                // Zhou's device verifying: accepted, and no longer escalated.
                var zhou = form
                let verified = try InspectionForm.progressNotice(&zhou, notice: raised.id, to: .verified, note: "复核合格", at: F.now, stamp: Deltas.stamp("zhou-dev", 1_795_000_005_000))
                let accepted = try PushResponse(json: F.json(try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("zhou"), body: F.body(Deltas.push([verified])))))
                #expect(accepted.results.map(\.status) == [.accepted])
                let after = try F.json(try await client.execute(uri: "/v1/views/escalations", method: .get, headers: f.headers("zhou")))
                #expect(after["escalations"]?.arrayValue?.contains { $0["kind"] == "rectification-overdue" } == false)
            }
        }
    }
}
