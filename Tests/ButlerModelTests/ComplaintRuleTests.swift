import ButlerModel
import Foundation
import Testing

/// Complaints (issue 13): rounds derived from fixes and callbacks, unresolved wins, escalation,
/// the project manager's approval; callbacks closed as unreachable.
@Suite struct ComplaintRuleTests {
    static let li = Fixtures.author("li-handheld", "李管家")
    static let wang = Fixtures.author("wang-handheld", "王管家")
    static let desk = Fixtures.author("front-desk", "前台")
    static let chen = Fixtures.author("chen-laptop", "陈经理")

    static func complaint(_ level: ComplaintLevel = .minor) throws -> RecordState {
        try Complaint.create(
            id: Fixtures.id("cp-r"), zone: Fixtures.zone, place: "7号楼 502", level: level, description: "楼上漏水", reportedAt: Fixtures.morning,
            stamp: Fixtures.stamp(desk, 1_000))
    }

    static func call(_ state: inout RecordState, _ minutes: Double, _ satisfaction: Satisfaction?, by author: Author, _ ms: Int64) throws -> RecordState {
        try Complaint.logCallback(
            &state, at: Fixtures.at(minutes), channel: .phone, reached: satisfaction != nil, satisfaction: satisfaction, note: nil,
            stamp: Fixtures.stamp(author, ms)).delta
    }

    @Test("003 §4.4: a round's verdict comes from its callbacks; an unsatisfied resident opens the next round at that callback")
    func roundsDerivedFromCallbacks() throws {
        var state = try Self.complaint()
        #expect(try Complaint(state).rounds.map(\.number) == [1])
        #expect(try Complaint(state).rounds[0].openedAt == Fixtures.morning)
        _ = try Complaint.recordFix(&state, at: Fixtures.at(60), note: "更换止水阀", stamp: Fixtures.stamp(Self.li, 2_000))
        #expect(try Complaint(state).status == .fixed)
        _ = try Self.call(&state, 90, .unsatisfied, by: Self.desk, 3_000)
        let complaint = try Complaint(state)
        #expect(complaint.rounds.map(\.result) == [.unresolved, nil])
        #expect(complaint.rounds[1].openedAt == Fixtures.at(90))
        #expect(complaint.status == .open)
        #expect(complaint.fixedAt == nil)
    }

    @Test("001 §4.2.3.7: the same problem unresolved after two rounds is a major complaint, escalated to the supervisor")
    func twoUnresolvedRoundsEscalate() throws {
        var state = try Self.complaint(.important)
        for round in 0..<2 {
            let base = Double(round) * 1_000
            _ = try Complaint.recordFix(&state, at: Fixtures.at(base + 60), note: nil, stamp: Fixtures.stamp(Self.li, 2_000 + Int64(round) * 10))
            _ = try Self.call(&state, base + 120, .unsatisfied, by: Self.desk, 3_000 + Int64(round) * 10)
        }
        let complaint = try Complaint(state)
        #expect(complaint.unresolvedRounds == 2 && complaint.isEscalated && complaint.effectiveLevel == .major)
        #expect(complaint.currentRound?.number == 3)
        let escalations = Escalation.evaluate([state], now: Fixtures.at(2_500))
        #expect(escalations.contains { $0.kind == .complaintEscalated && $0.record == complaint.id })
        // The third round is held to the major deadline: fixed within one working day.
        let due = Deadlines.fixDue(for: complaint, calendar: EstateCalendar())
        #expect(due == EstateCalendar().addingWorkingDays(1, to: Fixtures.at(1_120)))
    }

    @Test("unresolved-wins: a concurrent satisfied callback, even hours later by the clock, never hides an unsatisfied one")
    func unresolvedWinsConcurrent() throws {
        var a = try Self.complaint()
        _ = try Complaint.recordFix(&a, at: Fixtures.at(60), note: nil, stamp: Fixtures.stamp(Self.li, 2_000))
        var b = a
        let satisfied = try Self.call(&a, 600, .satisfied, by: Self.desk, 9_000)
        let unsatisfied = try Self.call(&b, 70, .unsatisfied, by: Self.wang, 2_500)
        try a.merge(unsatisfied)
        try b.merge(satisfied)
        #expect(a == b)
        let complaint = try Complaint(a)
        #expect(complaint.rounds[0].result == .unresolved)
        #expect(complaint.unresolvedRounds == 1 && complaint.rounds.count == 2)
        #expect(complaint.conflicts.isEmpty)
    }

    @Test("concurrent fixes of one round are both kept; the round was fixed at the earlier")
    func concurrentFixes() throws {
        var a = try Self.complaint(), b = a
        let f1 = try Complaint.recordFix(&a, at: Fixtures.at(90), note: "a", stamp: Fixtures.stamp(Self.li, 2_000)).delta
        let f2 = try Complaint.recordFix(&b, at: Fixtures.at(60), note: "b", stamp: Fixtures.stamp(Self.wang, 2_000)).delta
        try a.merge(f2)
        try b.merge(f1)
        #expect(a == b)
        #expect(try Complaint(a).fixes.count == 2)
        #expect(try Complaint(a).fixedAt == Fixtures.at(60))
    }

    @Test("a callback before the round's fix, or dated before it, is refused and changes nothing; a fix before the round opened too")
    func honestOrder() throws {
        var state = try Self.complaint()
        let before = state
        #expect { try Self.call(&state, 30, .satisfied, by: Self.desk, 2_000) } throws: { ($0 as? ModelError)?.code == .invalidTransition }
        #expect { try Complaint.recordFix(&state, at: Fixtures.at(-10), note: nil, stamp: Fixtures.stamp(Self.li, 2_000)) } throws: {
            ($0 as? ModelError)?.code == .invalidValue
        }
        #expect(state == before)
        _ = try Complaint.recordFix(&state, at: Fixtures.at(60), note: nil, stamp: Fixtures.stamp(Self.li, 2_000))
        #expect { try Self.call(&state, 30, .satisfied, by: Self.desk, 3_000) } throws: { ($0 as? ModelError)?.code == .invalidValue }
    }

    @Test("004 §一: the project manager's approval closes a resolved complaint, and only a resolved (or unreachable) one")
    func approval() throws {
        var state = try Self.complaint()
        #expect { try Complaint.approve(&state, at: Fixtures.at(10), note: nil, stamp: Fixtures.stamp(Self.chen, 1_500)) } throws: {
            ($0 as? ModelError)?.code == .invalidTransition
        }
        _ = try Complaint.recordFix(&state, at: Fixtures.at(60), note: nil, stamp: Fixtures.stamp(Self.li, 2_000))
        _ = try Self.call(&state, 90, .satisfied, by: Self.desk, 3_000)
        #expect(try Complaint(state).awaitingApproval)
        _ = try Complaint.approve(&state, at: Fixtures.at(120), note: "同意结案", stamp: Fixtures.stamp(Self.chen, 4_000))
        let closed = try Complaint(state)
        #expect(closed.status == .closed && closed.closedAt == Fixtures.at(120) && !closed.awaitingApproval)
        #expect { try Self.call(&state, 130, .unsatisfied, by: Self.desk, 5_000) } throws: { ($0 as? ModelError)?.code == .invalidTransition }
    }

    @Test("003: a round whose resident is not reached in 3 attempts may be approved as unreachable")
    func unreachableApproval() throws {
        var state = try Self.complaint()
        _ = try Complaint.recordFix(&state, at: Fixtures.at(60), note: nil, stamp: Fixtures.stamp(Self.li, 2_000))
        for i in 0..<3 { _ = try Self.call(&state, 90 + Double(i) * 60, nil, by: Self.desk, 3_000 + Int64(i)) }
        let complaint = try Complaint(state)
        #expect(complaint.currentRound?.isUnreachable == true && complaint.awaitingApproval)
        _ = try Complaint.approve(&state, at: Fixtures.at(400), note: "三次未联系上", stamp: Fixtures.stamp(Self.chen, 4_000))
        #expect(try Complaint(state).status == .closed)
    }

    @Test("the server lets only a manager's device write a complaint's approval or closedAt")
    func approvalAdmission() throws {
        var stored = try Self.complaint()
        _ = try Complaint.recordFix(&stored, at: Fixtures.at(60), note: nil, stamp: Fixtures.stamp(Self.li, 2_000))
        _ = try Self.call(&stored, 90, .satisfied, by: Self.desk, 3_000)
        for (role, author) in [(DeviceRole.butler, Self.li), (.supervisor, Self.wang)] {
            var copy = stored
            let approval = try Complaint.approve(&copy, at: Fixtures.at(120), note: nil, stamp: Fixtures.stamp(author, 4_000))
            let device = Pusher(name: author.replica.rawValue, role: role, replicas: [author.replica])
            #expect { try DeltaAdmission.admit(approval, into: stored, by: device) } throws: { ($0 as? ModelError)?.code == .roleForbidden }
            var closedOnly = stored
            let closing = closedOnly.write("closedAt", .string(Timestamp.format(Fixtures.at(120))), stamp: Fixtures.stamp(author, 4_100))
            #expect { try DeltaAdmission.admit(closing, into: stored, by: device) } throws: { ($0 as? ModelError)?.code == .roleForbidden }
        }
        var copy = stored
        let approval = try Complaint.approve(&copy, at: Fixtures.at(120), note: nil, stamp: Fixtures.stamp(Self.chen, 4_000))
        let manager = Pusher(name: "chen", role: .manager, replicas: [Self.chen.replica])
        #expect(try Complaint(try DeltaAdmission.admit(approval, into: stored, by: manager)).status == .closed)
    }

    @Test("the server refuses a fix or a complaint callback dated in the future")
    func futureDatedRefused() throws {
        var state = try Self.complaint()
        // The entry's HLC time says it was recorded at 2026-11-23T01:00Z; the fix claims a day later.
        let recorded = Int64(Fixtures.morning.timeIntervalSince1970 * 1000)
        let fix = try Complaint.recordFix(&state, at: Fixtures.at(1_440), note: nil, stamp: Fixtures.stamp(Self.li, recorded)).delta
        #expect { try CallbackRecord.checkAttemptTimes(fix) } throws: { ($0 as? ModelError)?.code == .invalidValue }
        let honest = try Complaint.recordFix(&state, at: Fixtures.at(0), note: nil, stamp: Fixtures.stamp(Self.wang, recorded)).delta
        try CallbackRecord.checkAttemptTimes(honest)
    }

    @Test("003: a callback may be closed as unreachable only after 3 failed attempts; a later verdict outranks the closing")
    func callbackClosedUnreachable() throws {
        var state = try CallbackRecord.create(subject: Fixtures.id("wo-9"), subjectType: .workOrder, zone: Fixtures.zone, stamp: Fixtures.stamp(Self.desk, 1_000))
        for i in 0..<2 {
            _ = try CallbackRecord.logAttempt(&state, at: Fixtures.at(Double(i) * 60), channel: .phone, reached: false, satisfaction: nil, note: nil, stamp: Fixtures.stamp(Self.desk, 2_000 + Int64(i)))
        }
        #expect { try CallbackRecord.closeUnreachable(&state, at: Fixtures.at(130), note: nil, stamp: Fixtures.stamp(Self.desk, 2_500)) } throws: {
            ($0 as? ModelError)?.code == .invalidTransition
        }
        _ = try CallbackRecord.logAttempt(&state, at: Fixtures.at(120), channel: .sms, reached: false, satisfaction: nil, note: nil, stamp: Fixtures.stamp(Self.desk, 2_600))
        #expect(try CallbackRecord(state).outcome == .unreachable)
        // Unreachable but not closed: still overdue once due; closed: settled.
        let closed = try CallbackRecord.closeUnreachable(&state, at: Fixtures.at(130), note: "已留言", stamp: Fixtures.stamp(Self.desk, 2_700))
        #expect(!closed.isEmpty)
        #expect(try CallbackRecord(state).outcome == .closedUnreachable)
        _ = try CallbackRecord.logAttempt(&state, at: Fixtures.at(200), channel: .visit, reached: true, satisfaction: .satisfied, note: nil, stamp: Fixtures.stamp(Self.li, 3_000))
        #expect(try CallbackRecord(state).outcome == .satisfied)
    }
}
