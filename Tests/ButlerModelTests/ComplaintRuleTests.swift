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

/// The review of issue 13's first cut: what a rogue device or a missed verdict could still do.
@Suite struct ComplaintTrustTests {
    typealias C = ComplaintRuleTests
    static let rogue = Fixtures.author("rogue-handheld", "rogue")

    @Test("rounds/<id> (as written before rounds were derived) is read only: no role may write one")
    func legacyRoundsReadOnly() throws {
        var stored = try C.complaint()
        var copy = stored
        let forged = copy.write(try FieldPath("rounds", "x"), ["openedAt": .string("2099-01-01T00:00:00.000Z")], stamp: Fixtures.stamp(Self.rogue, 2_000))
        for role in DeviceRole.allCases {
            let device = Pusher(name: "rogue", role: role, replicas: [Self.rogue.replica])
            #expect { try DeltaAdmission.admit(forged, into: stored, by: device) } throws: { ($0 as? ModelError)?.code == .roleForbidden }
        }
        // A legacy round read back opens no earlier than the complaint itself.
        try stored.merge(stored.write(try FieldPath("rounds", "old"), ["openedAt": .string("2000-01-01T00:00:00.000Z")], stamp: Fixtures.stamp(C.desk, 1_500)))
        #expect(try Complaint(stored).rounds.first?.openedAt == Fixtures.morning)
    }

    @Test("001 §4.2.3.7: a device that missed a verdict files its fix and callback under the dead round; they count for the next, so two failures still escalate")
    func missedVerdictStillEscalates() throws {
        var desk = try C.complaint()
        _ = try Complaint.recordFix(&desk, at: Fixtures.at(60), note: nil, stamp: Fixtures.stamp(C.li, 2_000))
        var wang = desk  // offline from here
        // Round 1: the desk's callback at 10:00 finds the resident unsatisfied.
        let verdict = try C.call(&desk, 540, .unsatisfied, by: C.desk, 3_000)
        // Wang, who has not seen it, fixes again at 14:00 and calls back at 16:00: still unsatisfied.
        let fix = try Complaint.recordFix(&wang, at: Fixtures.at(780), note: "二次维修", stamp: Fixtures.stamp(C.wang, 3_100)).delta
        let call = try C.call(&wang, 900, .unsatisfied, by: C.wang, 3_200)
        try desk.merge(fix)
        try desk.merge(call)
        try wang.merge(verdict)
        #expect(desk == wang)
        let complaint = try Complaint(desk)
        #expect(complaint.rounds.map(\.result) == [.unresolved, .unresolved, nil])
        #expect(complaint.rounds[1].fixedAt == Fixtures.at(780))
        #expect(complaint.isEscalated && complaint.effectiveLevel == .major)
        #expect(complaint.rounds[1].callbacks.map(\.author) == ["王管家"], "each callback shown once, with the round it counted for")
    }

    @Test("a concurrent satisfied callback made before the next round's fix stays in its round, where unresolved wins")
    func concurrentSatisfiedStays() throws {
        var a = try C.complaint()
        _ = try Complaint.recordFix(&a, at: Fixtures.at(60), note: nil, stamp: Fixtures.stamp(C.li, 2_000))
        var b = a
        let unsatisfied = try C.call(&a, 90, .unsatisfied, by: C.desk, 3_000)
        let satisfied = try C.call(&b, 300, .satisfied, by: C.wang, 3_100)
        try a.merge(satisfied)
        try b.merge(unsatisfied)
        let complaint = try Complaint(a)
        #expect(complaint.rounds.map(\.result) == [.unresolved, nil])
        #expect(!complaint.awaitingApproval)
    }

    @Test("003: a callback closed without 3 failed attempts settles nothing; a callback record naming another subject follows nothing up")
    func closingAndSubjectAreChecked() throws {
        var state = try CallbackRecord.create(subject: Fixtures.id("wo-1"), subjectType: .workOrder, zone: Fixtures.zone, stamp: Fixtures.stamp(C.desk, 1_000))
        try state.merge(state.write("closed", ["at": .string("2026-11-23T01:00:00.000Z"), "reason": "unreachable"], stamp: Fixtures.stamp(Self.rogue, 2_000)))
        #expect(try CallbackRecord(state).outcome == .pending)
        var squatter = RecordState(id: Fixtures.id("cb:zzz"), type: .callback, zone: Fixtures.zone)
        try squatter.merge(squatter.write("subject", ["type": "work-order", "id": "wo-1"], stamp: Fixtures.stamp(Self.rogue, 2_100)))
        #expect(try CallbackRecord(squatter).subject == nil)
        #expect(CallbackRecord.bySubject([state, squatter])["wo-1"]?.id == state.id)
    }
}

/// Evidence, notes and rain reports: a butler's device never removes another device's entry,
/// not even by writing its own in its place first.
@Suite struct TwoPushErasureTests {
    static let li = Fixtures.author("li-handheld", "李管家")
    static let rogue = Fixtures.author("rogue-handheld", "rogue")
    static let sha = Fixtures.sha("evidence")

    @Test("a re-attach adds beside a colleague's attach; a detach of it then leaves the colleague's evidence")
    func reattachThenDetach() throws {
        var stored = Fixtures.newForm()
        try stored.merge(try InspectionForm.attachPhoto(&stored, item: "fire-door", sha256: Self.sha, stamp: Fixtures.stamp(Self.li, 2_000)))
        let rogueDevice = Pusher(name: "rogue", role: .butler, replicas: [Self.rogue.replica])
        var rogue = stored
        let reattach = try InspectionForm.attachPhoto(&rogue, item: "fire-door", sha256: Self.sha, stamp: Fixtures.stamp(Self.rogue, 2_500))
        stored = try DeltaAdmission.admit(reattach, into: stored, by: rogueDevice)
        #expect(stored.siblings(try FieldPath("items", "fire-door", "photos", Self.sha)).count == 2)
        // Detaching now removes Li's entry too: refused.
        var again = stored
        let detach = try InspectionForm.detachPhoto(&again, item: "fire-door", sha256: Self.sha, stamp: Fixtures.stamp(Self.rogue, 2_600))
        #expect { try DeltaAdmission.admit(detach, into: stored, by: rogueDevice) } throws: { ($0 as? ModelError)?.code == .roleForbidden }
        // Attaching once more supersedes only the rogue's own entry: Li's is still there.
        var more = stored
        let third = try InspectionForm.attachPhoto(&more, item: "fire-door", sha256: Self.sha, stamp: Fixtures.stamp(Self.rogue, 2_700))
        let merged = try DeltaAdmission.admit(third, into: stored, by: rogueDevice)
        let path = try FieldPath("items", "fire-door", "photos", Self.sha)
        #expect(merged.siblings(path).count == 2)
        #expect(merged.fields[path]?.keys.contains { $0.replica == Self.li.replica } == true)
    }

    @Test("a butler's delta may not write over another device's note, nor a rain report")
    func notesAndReports() throws {
        var stored = Fixtures.newForm()
        let note = try InspectionForm.addNote(&stored, item: "fire-door", text: "闭门器损坏", at: Fixtures.at(0), stamp: Fixtures.stamp(Self.li, 2_000))
        try stored.merge(note)
        let path = try #require(note.fields.keys.first)
        var copy = stored
        let over = copy.write(path, ["text": "ok", "at": .string("2026-11-23T01:00:00.000Z")], stamp: Fixtures.stamp(Self.rogue, 2_500))
        let rogueDevice = Pusher(name: "rogue", role: .butler, replicas: [Self.rogue.replica])
        #expect { try DeltaAdmission.admit(over, into: stored, by: rogueDevice) } throws: { ($0 as? ModelError)?.code == .roleForbidden }

        let day = try EstateCalendar.Day("2026-11-22")
        var rain = RecordState(id: try RainDay.recordID(zone: Fixtures.zone, day: day), type: .rainDay, zone: Fixtures.zone)
        let report = try RainDay.report(&rain, note: nil, at: Fixtures.at(0), stamp: Fixtures.stamp(Self.li, 2_000))
        let reportPath = try #require(report.fields.keys.first)
        var rainCopy = rain
        let overReport = rainCopy.write(reportPath, ["at": .string("2026-11-23T01:00:00.000Z")], stamp: Fixtures.stamp(Self.rogue, 2_500))
        #expect { try DeltaAdmission.admit(overReport, into: rain, by: rogueDevice) } throws: { ($0 as? ModelError)?.code == .roleForbidden }
    }

    @Test("001 §4.3.1.1: a notice reported rectified only after its deadline stays overdue until a supervisor verifies it")
    func lateRectificationStaysOverdue() throws {
        var form = Fixtures.newForm()
        try form.merge(try InspectionForm.setResult(&form, item: "fire-door", result: .defect, at: Fixtures.at(0), stamp: Fixtures.stamp(Self.li, 2_000)))
        let deadline = Fixtures.at(60)
        let (id, raised) = try InspectionForm.addNotice(
            &form, item: "fire-door", party: .engineering, description: "更换闭门器", deadline: deadline, template: Fixtures.template, at: Fixtures.at(1),
            stamp: Fixtures.stamp(Self.li, HybridLogicalClock.millis(Fixtures.at(1))))
        _ = raised
        // Rectified two hours after the deadline.
        _ = try InspectionForm.setNoticeStatus(&form, notice: id, to: .rectified, stamp: Fixtures.stamp(Self.li, HybridLogicalClock.millis(Fixtures.at(180))))
        #expect(try InspectionForm(form).notices.first?.isOverdue(now: Fixtures.at(200)) == true)
        let supervisor = Fixtures.author("zhou-tablet", "周主管")
        _ = try InspectionForm.setNoticeStatus(&form, notice: id, to: .verified, stamp: Fixtures.stamp(supervisor, HybridLogicalClock.millis(Fixtures.at(240))))
        #expect(try InspectionForm(form).notices.first?.isOverdue(now: Fixtures.at(300)) == false)
    }
}
