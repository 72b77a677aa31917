import ButlerModel
import Foundation
import Testing

@Suite("Causality: version vectors, contexts with gaps, hybrid logical clocks")
struct CausalityTests {
    static let a = try! ReplicaID("A")
    static let b = try! ReplicaID("B")

    @Test("four-way comparison", arguments: [
        ([1, 2], [1, 2], VersionVector.Ordering.equal),
        ([1, 1], [1, 2], .before),
        ([2, 1], [1, 1], .after),
        ([2, 1], [1, 2], .concurrent),
        ([0, 0], [0, 1], .before),
        ([3, 0], [0, 0], .after),
    ])
    func compare(_ left: [UInt64], _ right: [UInt64], _ expected: VersionVector.Ordering) {
        let l = VersionVector([Self.a: left[0], Self.b: left[1]])
        let r = VersionVector([Self.a: right[0], Self.b: right[1]])
        #expect(l.compare(to: r) == expected)
    }

    @Test("a context holds gaps and compacts when they close")
    func gaps() throws {
        var context = CausalContext()
        context.insert(try Dot(Self.a, 3))
        #expect(context.contains(try Dot(Self.a, 3)))
        #expect(!context.contains(try Dot(Self.a, 2)), "A:2 has not been seen just because A:3 has")
        #expect(context.vector[Self.a] == 0)
        context.insert(try Dot(Self.a, 1))
        context.insert(try Dot(Self.a, 2))
        #expect(context.vector[Self.a] == 3)
        #expect(context.cloud.isEmpty)
        #expect(context.maxCounter(of: Self.a) == 3)
    }

    @Test("union of contexts keeps every seen dot")
    func union() throws {
        var x = CausalContext(vector: VersionVector([Self.a: 2]), cloud: [try Dot(Self.b, 5)])
        let y = CausalContext(vector: VersionVector([Self.b: 4]), cloud: [try Dot(Self.a, 4)])
        x.formUnion(y)
        #expect(x.vector == VersionVector([Self.a: 2, Self.b: 5]))
        #expect(x.cloud == [try Dot(Self.a, 4)])
    }

    @Test("counters are bounded to what every JSON reader holds exactly")
    func counterBounds() {
        #expect(throws: ModelError.self) { try Dot(Self.a, 0) }
        #expect(throws: ModelError.self) { try Dot(Self.a, Dot.maxCounter + 1) }
    }

    @Test("HLC is monotone when the wall clock stands still or goes back")
    func hlcMonotone() {
        var clock = HybridLogicalClock()
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        let first = clock.tick(now: t)
        let second = clock.tick(now: t)
        let third = clock.tick(now: t.addingTimeInterval(-3600))
        #expect(first < second && second < third)
        #expect(third.millis == first.millis)
    }

    @Test("HLC orders after what it observed, across a day of clock skew")
    func hlcSkew() {
        var behind = HybridLogicalClock()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let remote = HLCTimestamp(millis: HybridLogicalClock.millis(now) + 86_400_000, logical: 7)
        behind.observe(remote, now: now)
        #expect(behind.tick(now: now) > remote)
    }

    @Test("HLC does not follow a clock set absurdly far ahead")
    func hlcClamp() {
        var clock = HybridLogicalClock()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        clock.observe(HLCTimestamp(millis: HybridLogicalClock.millis(now) + 365 * 86_400_000), now: now)
        #expect(clock.tick(now: now).millis == HybridLogicalClock.millis(now))
    }

    @Test("identifiers refuse traversal, separators and oversize", arguments: ["", ".", "..", "a/b", "a b", "ä", String(repeating: "x", count: 65)])
    func identifiers(_ text: String) {
        #expect(throws: ModelError.self) { try ReplicaID(text) }
        #expect(throws: ModelError.self) { try Zone(text) }
    }
}
