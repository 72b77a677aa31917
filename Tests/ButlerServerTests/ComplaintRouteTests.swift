import ButlerModel
import ButlerServer
import ButlerTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Complaints on the server (issue 13): the callbacks view reads a complaint's current round, the
/// approval is a manager's, and dated claims are checked.
@Suite("Server: complaints")
struct ComplaintRouteTests {
    typealias F = ServerFixture

    static let reported = F.now.addingTimeInterval(-20 * 86_400)
    static func ms(_ date: Date) -> Int64 { HybridLogicalClock.millis(date) }

    func push(_ client: any TestClientProtocol, _ f: F, _ device: String, _ deltas: [RecordState]) async throws -> [PushResponse.Result] {
        try await f.push(client, as: device, deltas)
    }

    func row(_ client: any TestClientProtocol, _ f: F) async throws -> JSONValue? {
        let view = try F.json(try await client.execute(uri: "/v1/views/callbacks", method: .get, headers: f.headers("zhou")))
        return view["callbacks"]?.arrayValue?.first { $0["subject"] == "cp-route" }
    }

    @Test("views/callbacks follows the current round; only a manager's approval is admitted; a fix dated in the future is refused", arguments: Backend.available)
    func complaintOnTheServer(_ backend: Backend) async throws {
        try await F.with(backend) { f in
            try await f.app().test(.router) { client in
                var li = try Complaint.create(
                    id: RecordID("cp-route"), zone: Deltas.zone, place: "7号楼 502", level: .minor, description: "楼上漏水", reportedAt: Self.reported,
                    stamp: Deltas.stamp("li-dev", Self.ms(Self.reported)))
                let create = li
                let fixedAt = Self.reported.addingTimeInterval(3600)
                let fix = try Complaint.recordFix(&li, at: fixedAt, note: nil, stamp: Deltas.stamp("li-dev", Self.ms(fixedAt))).delta
                #expect(try await push(client, f, "li", [create, fix]).allSatisfy { $0.status == .accepted })
                // Minor: called back within 2 weeks of the fix; 20 days on, overdue.
                var callback = try #require(try await row(client, f))
                #expect(callback["outcome"] == "pending" && callback["overdue"] == true)
                #expect(callback["due"] == .string(Timestamp.format(fixedAt.addingTimeInterval(14 * 86_400))))

                let calledAt = fixedAt.addingTimeInterval(86_400)
                let satisfied = try Complaint.logCallback(
                    &li, at: calledAt, channel: .phone, reached: true, satisfaction: .satisfied, note: nil, stamp: Deltas.stamp("li-dev", Self.ms(calledAt))).delta
                #expect(try await push(client, f, "li", [satisfied]).map(\.status) == [.accepted])
                callback = try #require(try await row(client, f))
                #expect(callback["outcome"] == "satisfied" && callback["overdue"] == false)

                // The approval: a butler's and a supervisor's are refused, the manager's admitted.
                for (device, replica) in [("li", "li-dev"), ("zhou", "zhou-dev")] {
                    var copy = li
                    let approval = try Complaint.approve(&copy, at: F.now, note: nil, stamp: Deltas.stamp(replica, Self.ms(F.now)))
                    let result = try await push(client, f, device, [approval])
                    #expect(result.map(\.status) == [.refused] && result.first?.code == .roleForbidden, "\(device)")
                }
                var pm = li
                let approval = try Complaint.approve(&pm, at: F.now, note: "同意结案", stamp: Deltas.stamp("pm-dev", Self.ms(F.now)))
                #expect(try await push(client, f, "pm", [approval]).map(\.status) == [.accepted])

                // A fix claiming to happen a day after it was recorded.
                var other = try Complaint.create(
                    id: RecordID("cp-future"), zone: Deltas.zone, place: "p", level: .major, description: "d", reportedAt: Self.reported,
                    stamp: Deltas.stamp("wang-dev", Self.ms(Self.reported)))
                let otherCreate = other
                let future = try Complaint.recordFix(&other, at: F.now.addingTimeInterval(86_400), note: nil, stamp: Deltas.stamp("wang-dev", Self.ms(F.now))).delta
                let results = try await push(client, f, "wang", [otherCreate, future])
                #expect(results.map(\.status) == [.accepted, .refused] && results.last?.code == .invalidValue)
                // A handheld whose clock runs 5 days fast: entry and claim agree, but the server's
                // time says the fix has not happened yet: held back as clock-ahead (sent again later).
                let fast = F.now.addingTimeInterval(5 * 86_400)
                let early = try Complaint.recordFix(&other, at: fast, note: nil, stamp: Deltas.stamp("wang-dev", Self.ms(fast) + 1)).delta
                let held = try await push(client, f, "wang", [early])
                #expect(held.map(\.status) == [.refused] && held.first?.code == .clockAhead)
            }
        }
    }
}
