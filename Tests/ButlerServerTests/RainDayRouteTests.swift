import ButlerModel
import ButlerServer
import ButlerTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Rain days on the server (issue 13): the views build each zone's calendar from the rain-day
/// records they hold and the configured offset; rogue rain days are refused.
@Suite("Server: rain days and the estate's time zone")
struct RainDayRouteTests {
    typealias F = ServerFixture

    /// F.now is 2026-11-23T02:00Z; the leak was completed 2026-11-20T02:00Z (10:00 at +08:00).
    static let completed = F.now.addingTimeInterval(-3 * 86_400)

    static func leakOrder() throws -> [RecordState] {
        var order = try WorkOrder.create(
            id: RecordID("wo-leak"), zone: Deltas.zone, place: "5号楼 301", category: .leak, description: "天花渗水",
            reportedAt: completed.addingTimeInterval(-3600), stamp: Deltas.stamp("li-dev", 1_795_000_000_000))
        let first = order
        let done = try WorkOrder.complete(&order, at: completed, stamp: Deltas.stamp("li-dev", 1_795_000_000_500))
        return [first, done]
    }

    static func rain(_ day: String, zone: Zone = Deltas.zone, by replica: String) throws -> RecordState {
        var state = RecordState(id: try RainDay.recordID(zone: zone, day: try EstateCalendar.Day(day)), type: .rainDay, zone: zone)
        return try RainDay.report(&state, note: nil, at: F.now, stamp: Deltas.stamp(replica, HybridLogicalClock.millis(F.now)))
    }

    func push(_ client: any TestClientProtocol, _ f: F, _ device: String, _ deltas: [RecordState]) async throws -> [PushResponse.Result] {
        try await f.push(client, as: device, deltas)
    }

    func callbackRow(_ client: any TestClientProtocol, _ f: F) async throws -> JSONValue? {
        let view = try F.json(try await client.execute(uri: "/v1/views/callbacks", method: .get, headers: f.headers("zhou")))
        return view["callbacks"]?.arrayValue?.first { $0["subject"] == "wo-leak" }
    }

    @Test("views/callbacks: a completed leak waits for rain until a rain day of its zone after completion is recorded; then due at that day's end", arguments: Backend.available)
    func leakWaitsForRain(_ backend: Backend) async throws {
        try await F.with(backend) { f in
            try await f.app().test(.router) { client in
                #expect(try await push(client, f, "li", try Self.leakOrder()).allSatisfy { $0.status == .accepted })
                var row = try #require(try await callbackRow(client, f))
                #expect(row["due"] == .null && row["waitingFor"] == "rain" && row["overdue"] == false)

                // Rain on the completion day, and in another zone the next day: still waiting.
                #expect(try await push(client, f, "wang", [try Self.rain("2026-11-20", by: "wang-dev")]).map(\.status) == [.accepted])
                #expect(try await push(client, f, "zhou", [try Self.rain("2026-11-21", zone: Zone("east-4"), by: "zhou-dev")]).map(\.status) == [.accepted])
                row = try #require(try await callbackRow(client, f))
                #expect(row["waitingFor"] == "rain")

                #expect(try await push(client, f, "wang", [try Self.rain("2026-11-21", by: "wang-dev")]).map(\.status) == [.accepted])
                row = try #require(try await callbackRow(client, f))
                #expect(row["due"] == "2026-11-21T16:00:00.000Z", "the end of 2026-11-21 at +08:00")
                #expect(row["waitingFor"] == nil && row["overdue"] == true)
                let escalations = try F.json(try await client.execute(uri: "/v1/views/escalations", method: .get, headers: f.headers("zhou")))
                #expect(escalations["escalations"]?.arrayValue?.contains { $0["record"] == "wo-leak" && $0["kind"] == "callback-overdue" } == true)
            }
        }
    }

    @Test("the configured offset serves devices and counts the views' days", arguments: Backend.available)
    func configuredOffset(_ backend: Backend) async throws {
        try await F.with(backend, configure: { $0.calendar = EstateCalendar(utcOffsetSeconds: 0) }) { f in
            try await f.app().test(.router) { client in
                let me = try F.json(try await client.execute(uri: "/v1/devices/me", method: .get, headers: f.headers("li")))
                #expect(me["estate"] == ["utcOffset": "+00:00"])
                #expect(try DeviceInfo(json: me).estateUTCOffsetSeconds == 0)
                _ = try await push(client, f, "li", try Self.leakOrder() + [try Self.rain("2026-11-21", by: "li-dev")])
                #expect(try await callbackRow(client, f)?["due"] == "2026-11-22T00:00:00.000Z", "the end of 2026-11-21 in UTC")
            }
        }
        #expect(try ServerConfiguration.fromEnvironment(["BUTLER_ESTATE_UTC_OFFSET": "+07:00"]).calendar.utcOffsetSeconds == 7 * 3600)
        #expect(try ServerConfiguration.fromEnvironment([:]).calendar.utcOffsetSeconds == 8 * 3600)
        #expect(throws: ConfigurationError.self) { try ServerConfiguration.fromEnvironment(["BUTLER_ESTATE_UTC_OFFSET": "Asia/Shanghai"]) }
    }

    @Test("rogue rain days are refused: another zone's butler, an id naming another zone, a squatted id, rain not fallen yet", arguments: Backend.available)
    func refusals(_ backend: Backend) async throws {
        try await F.with(backend) { f in
            try await f.app().test(.router) { client in
                let good = try Self.rain("2026-11-22", by: "chen-dev")
                #expect(try await push(client, f, "chen", [good]).map(\.code) == [.zoneForbidden])

                // An id naming east-4 on a record of east-3 (built by hand: the model's API refuses it).
                var wrongZone = RecordState(id: try RecordID("rain:east-4:2026-11-22"), type: .rainDay, zone: Deltas.zone)
                let misnamed = wrongZone.write(try FieldPath("reports", "li-dev:1"), ["at": .string(Timestamp.format(F.now))], stamp: Deltas.stamp("li-dev", HybridLogicalClock.millis(F.now)))
                let squat = try WorkOrder.create(
                    id: RecordID("rain:east-3:2026-11-22"), zone: Deltas.zone, place: "p", category: .general, description: nil, reportedAt: F.now,
                    stamp: Deltas.stamp("li-dev", 1_795_000_000_000))
                let future = try Self.rain("2026-11-25", by: "li-dev")
                let results = try await push(client, f, "li", [misnamed, squat, future])
                #expect(results.map(\.code) == [.recordMismatch, .recordMismatch, .invalidValue])
                // The real rain day still lands afterwards: nobody squatted its id.
                #expect(try await push(client, f, "wang", [try Self.rain("2026-11-22", by: "wang-dev")]).map(\.status) == [.accepted])
            }
        }
    }
}
