import ButlerModel
@testable import ButlerServer
import ButlerTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// What the server refuses of resident profiles and visits (001 §4.1, §4.4), through the real
/// router on both backends: each refusal leaves records, feed and audit log byte-identical.
@Suite("Residents: admission")
struct ResidentAdmissionTests {
    typealias Rogue = RogueDeviceTests
    static let t0 = RogueDeviceTests.t0
    static let recorded = Date(timeIntervalSince1970: Double(t0 + 10) / 1000)

    static func withServer(_ backend: Backend, _ body: @Sendable @escaping (ServerFixture, any TestClientProtocol) async throws -> Void) async throws {
        try await ServerFixture.with(backend) { fixture in
            try await fixture.app().test(.router) { client in try await body(fixture, client) }
        }
    }

    /// Li's resident in east-3 with one visit, pushed and accepted; returns the state and the visit's path.
    static func seed(_ f: ServerFixture, _ client: some TestClientProtocol) async throws -> (RecordState, FieldPath) {
        var state = RecordState(id: try RecordID("res-1"), type: .resident, zone: Deltas.zone)
        let created = try Resident.create(
            id: state.id, zone: Deltas.zone, profile: Resident.Profile(household: "5号楼 301", phone: "13800138000"), note: nil,
            at: recorded, stamp: Deltas.stamp("li-dev", t0 + 1))
        try state.merge(created)
        let (_, visit) = try Resident.logVisit(&state, at: recorded, channel: .visit, note: "地库照明", stamp: Deltas.stamp("li-dev", t0 + 10))
        #expect(try await Rogue.push(client, f, "li", [created, visit]).map(\.status) == [.accepted, .accepted])
        return (state, try #require(visit.fields.keys.first))
    }

    @Test("001 §4.1: a device of another zone can neither read into nor write to a zone's residents", arguments: Backend.available)
    func otherZone(_ backend: Backend) async throws {
        try await Self.withServer(backend) { f, client in
            var (state, _) = try await Self.seed(f, client)
            // Chen works in west-1: a visit to an east-3 household, or a new east-3 profile, is refused.
            let (_, visit) = try Resident.logVisit(&state, at: Self.recorded, channel: .phone, note: nil, stamp: Deltas.stamp("chen-dev", Self.t0 + 20))
            try await Rogue.expectRefused(client, f, "chen", [visit], "zone-forbidden")
            let profile = try Resident.create(
                id: RecordID("res-2"), zone: Deltas.zone, profile: Resident.Profile(household: "5号楼 302"), note: nil, at: Self.recorded,
                stamp: Deltas.stamp("chen-dev", Self.t0 + 21))
            try await Rogue.expectRefused(client, f, "chen", [profile], "zone-forbidden")
            // Nor does chen's pull serve it.
            let page = try await f.storage.changeEncodings(after: 0, zones: [try Zone("west-1")], limit: 100, maxBytes: 1 << 20)
            #expect(page.states.isEmpty)
        }
    }

    @Test("001 §4.4.2: a visit dated more than 10 minutes after it was recorded is refused as invalid-value", arguments: Backend.available)
    func futureVisit(_ backend: Backend) async throws {
        try await Self.withServer(backend) { f, client in
            let (state, _) = try await Self.seed(f, client)
            // Forged past the client's own check: the visit is dated tomorrow, recorded now.
            var forged = state
            let future = forged.write(
                try FieldPath("visits", "li-dev:50"), ["at": .string(Timestamp.format(Self.recorded.addingTimeInterval(86_400))), "channel": "visit"],
                stamp: Deltas.stamp("li-dev", Self.t0 + 30))
            try await Rogue.expectRefused(client, f, "li", [future], "invalid-value")
            // Within the slack it is accepted.
            var honest = state
            let (_, slack) = try Resident.logVisit(
                &honest, at: Self.recorded.addingTimeInterval(9 * 60), channel: .phone, note: nil, stamp: Deltas.stamp("li-dev", Self.t0 + 40))
            #expect(try await Rogue.push(client, f, "li", [slack]).map(\.status) == [.accepted])
        }
    }

    @Test("001 §4.4.2: an append-only visit cannot be removed or rewritten by a rogue delta, a supervisor's included", arguments: Backend.available)
    func visitAppendOnly(_ backend: Backend) async throws {
        try await Self.withServer(backend) { f, client in
            let (state, path) = try await Self.seed(f, client)
            for (device, replica, millis) in [("wang", "wang-dev", Self.t0 + 50), ("zhou", "zhou-dev", Self.t0 + 51), ("li", "li-dev", Self.t0 + 52)] {
                var erase = state
                try await Rogue.expectRefused(client, f, device, [erase.write(path, nil, stamp: Deltas.stamp(replica, millis))], "role-forbidden")
                var rewrite = state
                let value: JSONValue = ["at": .string(Timestamp.format(Self.recorded)), "channel": "phone", "note": "改写"]
                try await Rogue.expectRefused(client, f, device, [rewrite.write(path, value, stamp: Deltas.stamp(replica, millis + 100))], "role-forbidden")
            }
            let stored = try #require(try await Rogue.stored(f, "res-1"))
            #expect(try Resident(stored).visits.map(\.note) == ["地库照明"])
        }
    }

    @Test("a resident's fields are checked against the schema: unknown fields and malformed values are invalid-field", arguments: Backend.available)
    func schema(_ backend: Backend) async throws {
        try await Self.withServer(backend) { f, client in
            let (state, _) = try await Self.seed(f, client)
            var unknown = state
            try await Rogue.expectRefused(client, f, "li", [unknown.write("ssn", "x", stamp: Deltas.stamp("li-dev", Self.t0 + 60))], "invalid-field")
            var phone = state
            try await Rogue.expectRefused(client, f, "li", [phone.write("phone", .int(13_800_138_000), stamp: Deltas.stamp("li-dev", Self.t0 + 61))], "invalid-field")
            var visit = state
            let channel = visit.write(try FieldPath("visits", "li-dev:70"), ["at": .string(Timestamp.format(Self.recorded)), "channel": "carrier-pigeon"], stamp: Deltas.stamp("li-dev", Self.t0 + 62))
            try await Rogue.expectRefused(client, f, "li", [channel], "invalid-field")
        }
    }
}
