import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// Resident profiles (001 §4.1), visits (客户沟通记录, 001 §4.4.2–4.4.3) and their coverage
/// (001 §4.4.4): the rules, on model values.
@Suite("Residents, visits and coverage")
struct ResidentTests {
    static let li = Fixtures.author("li-handheld", "李管家")
    static let wang = Fixtures.author("wang-handheld", "王管家")
    static let calendar = EstateCalendar()

    /// A profile created by Li at `millis`.
    static func resident(_ id: String, household: String, occupied: Bool = true, zone: Zone = Fixtures.zone, millis: Int64 = 1_000) throws -> RecordState {
        try Resident.create(
            id: RecordID(id), zone: zone, profile: Resident.Profile(household: household, occupied: occupied), note: nil, at: Fixtures.morning,
            stamp: Fixtures.stamp(li, millis))
    }

    /// A visit at `at` (UTC), logged by `author` just after (its recording time is `at`).
    static func visit(_ state: inout RecordState, at: Date, by author: Author = li, channel: Resident.Channel = .visit) throws -> RecordState {
        let millis = max(Int64(at.timeIntervalSince1970 * 1000), 2_000)
        return try Resident.logVisit(&state, at: at, channel: channel, note: nil, stamp: Fixtures.stamp(author, millis)).delta
    }

    static func utc(_ text: String) -> Date { Timestamp.parse(text)! }

    static func coverage(_ states: [RecordState], month: String, zones: Set<Zone>? = nil) throws -> VisitCoverage.ZoneCoverage {
        let c = VisitCoverage(residents: try states.map(Resident.init), month: try EstateMonth(month), calendar: calendar, zones: zones)
        return try #require(c.zones.first)
    }

    // MARK: 001 §4.1 profiles

    @Test("001 §4.1: a profile keeps household, name, phone, occupation, pets, needs and every note; an empty value clears a field")
    func profile() throws {
        var state = try Resident.create(
            id: RecordID("res-1"), zone: Fixtures.zone,
            profile: Resident.Profile(household: "5号楼 301", name: "王女士", phone: "138 0013 8000", occupation: "教师", pets: "狗", needs: "独居"),
            note: "喜欢早上联系", at: Fixtures.morning, stamp: Fixtures.stamp(Self.li, 1_000))
        var wang = state
        // Offline at once: Li and Wang both change the phone and add a note. Notes are all kept; the
        // phone shows the later write, the other stays listed as a conflict until someone sets it again.
        try Resident.update(&state, profile: Resident.Profile(phone: "137 0000 0000"), note: nil, at: Fixtures.at(4), stamp: Fixtures.stamp(Self.li, 2_000))
        try state.merge(try Resident.update(&wang, profile: Resident.Profile(phone: "139 0000 0000"), note: "儿子周末回来", at: Fixtures.at(5), stamp: Fixtures.stamp(Self.wang, 3_000)))
        let r = try Resident(state)
        #expect(r.household == "5号楼 301" && r.name == "王女士" && r.occupation == "教师" && r.pets == "狗" && r.needs == "独居")
        #expect(r.phone == "139 0000 0000")
        #expect(r.conflicts.map(\.field.rawValue) == ["phone"] && r.conflicts.first?.rule == .lastWriterWins)
        #expect(r.occupied, "occupied unless said otherwise")
        #expect(Set(r.notes.map(\.text)) == ["喜欢早上联系", "儿子周末回来"])
        #expect(Set(r.notes.map(\.author)) == ["李管家", "王管家"])
        try state.merge(try Resident.update(&state, profile: Resident.Profile(pets: "", occupied: false), note: nil, at: Fixtures.at(6), stamp: Fixtures.stamp(Self.li, 4_000)))
        let cleared = try Resident(state)
        #expect(cleared.pets == nil && !cleared.occupied)
        #expect(try state.resolvedView()["occupied"] == .bool(false))
    }

    @Test("001 §4.1: a profile needs a household; a malformed phone is refused without echoing the value")
    func validation() throws {
        #expect { try Resident.create(id: RecordID("res-1"), zone: Fixtures.zone, profile: Resident.Profile(name: "王"), note: nil, at: Fixtures.morning, stamp: Fixtures.stamp(Self.li, 1)) }
            throws: { ($0 as? ModelError)?.code == .invalidValue }
        var state = try Self.resident("res-1", household: "5号楼 301")
        let before = state
        do {
            try Resident.update(&state, profile: Resident.Profile(phone: "call me maybe 13800138000"), note: nil, at: Fixtures.morning, stamp: Fixtures.stamp(Self.li, 2))
            Issue.record("a malformed phone was accepted")
        } catch let error as ModelError {
            #expect(error.code == .invalidValue)
            #expect(!error.message.contains("13800138000"), "personal data is not echoed in errors")
        }
        #expect(state == before, "a refused edit changes nothing")
        // The schema refuses the same on the wire.
        var forged = before
        forged.write("phone", "<script>", stamp: Fixtures.stamp(Self.li, 3))
        #expect { try FieldSchema.of(.resident).validate(forged) } throws: { ($0 as? ModelError)?.code == .invalidField }
    }

    // MARK: 001 §4.4.2–4.4.3 visits

    @Test("001 §4.4.2: two devices logging visits at once are both kept, in any merge order, with no conflict")
    func concurrentVisits() throws {
        let base = try Self.resident("res-1", household: "5号楼 301")
        var li = base
        var wang = base
        let a = try Self.visit(&li, at: Fixtures.at(10), by: Self.li, channel: .visit)
        let b = try Self.visit(&wang, at: Fixtures.at(12), by: Self.wang, channel: .phone)
        var one = base
        try one.merge(a)
        try one.merge(b)
        var other = base
        try other.merge(b)
        try other.merge(a)
        try other.merge(a)
        #expect(one.canonicalJSON == other.canonicalJSON)
        let r = try Resident(one)
        #expect(r.visits.map(\.author) == ["李管家", "王管家"])
        #expect(r.visits.map(\.channel) == [.visit, .phone])
        #expect(try r.conflicts.isEmpty && one.conflicts().isEmpty)
        #expect(r.visits.allSatisfy { $0.recordedAt >= $0.at.addingTimeInterval(-1) })
    }

    @Test("001 §4.4.2: a visit dated in the future (beyond 10 minutes of clock slack) is refused; a late-logged past visit is fine")
    func futureVisit() throws {
        var state = try Self.resident("res-1", household: "5号楼 301")
        let recorded = Int64(Fixtures.at(60).timeIntervalSince1970 * 1000)
        let yesterday = try Resident.logVisit(&state, at: Fixtures.at(60 - 24 * 60), channel: .phone, note: nil, stamp: Fixtures.stamp(Self.li, recorded)).delta
        #expect(throws: Never.self) { try FieldSchema.of(.resident).checkDatedValues(yesterday) }
        let slack = try Resident.logVisit(&state, at: Fixtures.at(65), channel: .phone, note: nil, stamp: Fixtures.stamp(Self.li, recorded + 1)).delta
        #expect(throws: Never.self) { try FieldSchema.of(.resident).checkDatedValues(slack) }
        let before = state
        #expect { try Resident.logVisit(&state, at: Fixtures.at(60 + 11), channel: .visit, note: nil, stamp: Fixtures.stamp(Self.li, recorded + 2)) }
            throws: { ($0 as? ModelError)?.code == .invalidValue }
        #expect(state == before)
        // A forged delta carrying one is caught by the same check the server runs.
        var forged = before
        let future = forged.write(
            try FieldPath("visits", "li-handheld:99"), ["at": .string(Timestamp.format(Fixtures.at(60 + 24 * 60))), "channel": "visit"],
            stamp: Fixtures.stamp(Self.li, recorded + 3))
        #expect { try FieldSchema.of(.resident).checkDatedValues(future) } throws: { ($0 as? ModelError)?.code == .invalidValue }
    }

    @Test("001 §4.4.2: a visit is append-only: no device, butler or supervisor, may remove or rewrite one")
    func appendOnly() throws {
        var stored = try Self.resident("res-1", household: "5号楼 301")
        let visit = try Self.visit(&stored, at: Fixtures.at(10))
        let path = try #require(visit.fields.keys.first)
        let butler = Pusher(name: "wang", role: .butler, replicas: [try ReplicaID("wang-handheld")])
        let supervisor = Pusher(name: "zhou", role: .supervisor, replicas: [try ReplicaID("zhou-handheld")])
        let liPusher = Pusher(name: "li", role: .butler, replicas: [try ReplicaID("li-handheld")])
        for pusher in [butler, supervisor, liPusher] {
            let replica = pusher.replicas.first!
            var copy = stored
            let erase = copy.write(path, nil, stamp: Fixtures.stamp(try Author(replica: replica, name: pusher.name), 9_000))
            #expect { try DeltaAdmission.admit(erase, into: stored, by: pusher) } throws: { ($0 as? ModelError)?.code == .roleForbidden }
            copy = stored
            let rewrite = copy.write(path, ["at": .string(Timestamp.format(Fixtures.at(11))), "channel": "phone"], stamp: Fixtures.stamp(try Author(replica: replica, name: pusher.name), 9_001))
            #expect { try DeltaAdmission.admit(rewrite, into: stored, by: pusher) } throws: { ($0 as? ModelError)?.code == .roleForbidden }
        }
        // Logging another visit is an ordinary add.
        var wang = stored
        let another = try Self.visit(&wang, at: Fixtures.at(20), by: Self.wang)
        #expect(try Resident(try DeltaAdmission.admit(another, into: stored, by: butler)).visits.count == 2)
    }

    // MARK: 001 §4.4.4 coverage

    @Test("001 §4.4.4: at least 10% of occupied households a month, rounded up")
    func monthlyTenPercent() throws {
        var states = try (1...25).map { try Self.resident("res-\($0)", household: "1号楼 \(100 + $0)") }
        var c = try Self.coverage(states, month: "2026-11")
        #expect(c.occupiedHouseholds == 25 && c.monthlyTarget == 3 && c.visitedThisMonth == 0 && !c.monthlyTargetMet)
        for i in 0..<2 { _ = try Self.visit(&states[i], at: Self.utc("2026-11-1\(i)T02:00:00.000Z")) }
        // Two visits to the same household count once.
        _ = try Self.visit(&states[0], at: Self.utc("2026-11-20T02:00:00.000Z"))
        c = try Self.coverage(states, month: "2026-11")
        #expect(c.visitedThisMonth == 2 && !c.monthlyTargetMet)
        _ = try Self.visit(&states[2], at: Self.utc("2026-11-21T02:00:00.000Z"))
        c = try Self.coverage(states, month: "2026-11")
        #expect(c.visitedThisMonth == 3 && c.monthlyTargetMet)
        #expect(c.jsonValue["visitedThisMonthPercent"] == 12)
        // Last month's visits do not count for this month.
        #expect(try Self.coverage(states, month: "2026-12").visitedThisMonth == 0)
        // Ten households: one visit is the 10%.
        #expect(try Self.coverage(Array(states.prefix(10)), month: "2026-11").monthlyTarget == 1)
    }

    @Test("001 §4.4.4: the whole zone within six months (this month and the five before); the others are listed")
    func sixMonthsWholeZone() throws {
        var states = try (1...4).map { try Self.resident("res-\($0)", household: "2号楼 \(200 + $0)") }
        _ = try Self.visit(&states[0], at: Self.utc("2026-11-02T02:00:00.000Z"))  // this month
        _ = try Self.visit(&states[1], at: Self.utc("2026-06-01T02:00:00.000Z"))  // first month of the window
        _ = try Self.visit(&states[2], at: Self.utc("2026-05-31T02:00:00.000Z"))  // one month too early
        var c = try Self.coverage(states, month: "2026-11")
        #expect(c.visitedSixMonths == 2 && c.sixMonthTarget == 4 && !c.sixMonthTargetMet)
        #expect(c.notVisited.map(\.household) == ["2号楼 203", "2号楼 204"])
        #expect(c.notVisited[0].lastVisit == Self.utc("2026-05-31T02:00:00.000Z") && c.notVisited[1].lastVisit == nil)
        _ = try Self.visit(&states[2], at: Self.utc("2026-09-15T02:00:00.000Z"))
        _ = try Self.visit(&states[3], at: Self.utc("2026-10-15T02:00:00.000Z"))
        c = try Self.coverage(states, month: "2026-11")
        #expect(c.sixMonthTargetMet && c.notVisited.isEmpty)
        // A later visit does not count for an earlier month's window.
        #expect(try Self.coverage(states, month: "2026-08").visitedSixMonths == 2)
        // The window crosses the year: 2027-02 looks back to 2026-09.
        let window = VisitCoverage(residents: [], month: try EstateMonth("2027-02"), calendar: Self.calendar)
        #expect(window.windowStart == (try EstateMonth("2026-09")))
        #expect(try Self.coverage(states, month: "2027-02").visitedSixMonths == 3)
    }

    @Test("001 §4.4.4: vacant households are not counted; one household's profiles count once")
    func vacantNotCounted() throws {
        var occupied = try Self.resident("res-1", household: "3号楼 301")
        var vacant = try Self.resident("res-2", household: "3号楼 302", occupied: false)
        let sameHousehold = try Self.resident("res-3", household: "3号楼301")  // written without the space
        let vacantDuplicate = try Self.resident("res-4", household: "3号楼 301", occupied: false)
        _ = try Self.visit(&vacant, at: Self.utc("2026-11-05T02:00:00.000Z"))
        var c = try Self.coverage([occupied, vacant, sameHousehold, vacantDuplicate], month: "2026-11")
        #expect(c.occupiedHouseholds == 1, "302 is vacant; 301 is one household with three profiles")
        #expect(c.visitedThisMonth == 0, "a visit to a vacant household counts for nothing")
        #expect(c.notVisited.first?.residents.map(\.rawValue) == ["res-1", "res-3", "res-4"])
        _ = try Self.visit(&occupied, at: Self.utc("2026-11-06T02:00:00.000Z"))
        c = try Self.coverage([occupied, vacant, sameHousehold, vacantDuplicate], month: "2026-11")
        #expect(c.visitedThisMonth == 1 && c.monthlyTargetMet && c.sixMonthTargetMet)
        // A zone with no occupied household has nothing to visit.
        let empty = try Self.coverage([vacant], month: "2026-11")
        #expect(empty.occupiedHouseholds == 0 && empty.monthlyTarget == 0 && empty.monthlyTargetMet && empty.sixMonthTargetMet)
    }

    @Test("001 §4.4.4: months are counted in the estate's local time (UTC+8), not UTC")
    func monthBoundariesUTC8() throws {
        var early = try Self.resident("res-1", household: "4号楼 401")
        var late = try Self.resident("res-2", household: "4号楼 402")
        // 2026-11-30 16:30 UTC is 2026-12-01 00:30 in the estate: December's visit.
        _ = try Self.visit(&early, at: Self.utc("2026-11-30T16:30:00.000Z"))
        // 2026-10-31 15:59:59 UTC is 23:59:59 on 31 October in the estate: still October.
        _ = try Self.visit(&late, at: Self.utc("2026-10-31T15:59:59.000Z"))
        #expect(try Self.coverage([early, late], month: "2026-11").visitedThisMonth == 0)
        #expect(try Self.coverage([early, late], month: "2026-12").visitedThisMonth == 1)
        #expect(try Self.coverage([early, late], month: "2026-10").visitedThisMonth == 1)
        // The six-month window starts at local midnight too: 2027-04 looks back to 2026-11-01 00:00 +08:00.
        #expect(try Self.coverage([early, late], month: "2027-04").visitedSixMonths == 1)
        #expect(try Self.coverage([early, late], month: "2027-05").visitedSixMonths == 1, "December's visit is still within 2026-12…2027-05")
        // Another offset moves the boundary with it.
        let utc = VisitCoverage(residents: [try Resident(early)], month: try EstateMonth("2026-11"), calendar: EstateCalendar(utcOffsetSeconds: 0))
        #expect(utc.zones.first?.visitedThisMonth == 1)
    }

    @Test("001 §4.4.4: coverage is per zone; a zone asked for with no residents reads zero")
    func perZone() throws {
        var east = try Self.resident("res-1", household: "5号楼 301")
        let west = try Self.resident("res-2", household: "9号楼 101", zone: try Zone("west-1"))
        _ = try Self.visit(&east, at: Self.utc("2026-11-05T02:00:00.000Z"))
        let c = VisitCoverage(residents: [try Resident(east), try Resident(west)], month: try EstateMonth("2026-11"), calendar: Self.calendar)
        #expect(c.zones.map(\.zone.rawValue) == ["east-3", "west-1"])
        #expect(c.zones.map(\.visitedThisMonth) == [1, 0])
        let asked = VisitCoverage(residents: [try Resident(east)], month: try EstateMonth("2026-11"), calendar: Self.calendar, zones: [try Zone("east-4")])
        #expect(asked.zones.map(\.occupiedHouseholds) == [0])
    }

    @Test("months parse as yyyy-MM and step across years")
    func months() throws {
        let m = try EstateMonth("2026-01")
        #expect(m.adding(months: -1).description == "2025-12" && m.adding(months: 13).description == "2027-02")
        #expect(m.firstDay.description == "2026-01-01" && m.lastDay.description == "2026-01-31")
        #expect(try EstateMonth("2028-02").lastDay.description == "2028-02-29")
        for bad in ["2026-13", "2026-1", "26-01", "2026-01-01", ""] {
            #expect(throws: ModelError.self) { try EstateMonth(bad) }
        }
    }
}
