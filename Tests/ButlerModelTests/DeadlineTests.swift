import ButlerModel
import Foundation
import Testing

/// Derived facts: callback due times, escalations, overdue notices (001 §4.2.2–4.3.1, 003 §4.4, 004 §三).
@Suite("Derived deadlines and escalations")
struct DeadlineTests {
    let desk = Fixtures.author("desk", "前台")
    let calendar = EstateCalendar(rainDays: [try! EstateCalendar.Day("2026-11-25"), try! EstateCalendar.Day("2026-11-28")])

    func completedOrder(_ category: RepairCategory, completedAt: String) throws -> WorkOrder {
        var state = try WorkOrder.create(
            id: Fixtures.id("wo-\(category.rawValue)"), zone: Fixtures.zone, place: "5号楼 301", category: category, description: nil,
            reportedAt: Timestamp.parse("2026-11-23T00:00:00.000Z")!, stamp: Fixtures.stamp(desk, 1_000))
        try WorkOrder.complete(&state, at: Timestamp.parse(completedAt)!, stamp: Fixtures.stamp(desk, 2_000))
        return try WorkOrder(state)
    }

    @Test("callback due by repair category (001 §4.2.2.3–4)", arguments: [
        (RepairCategory.urgentUtility, "2026-11-24T02:00:00.000Z"),
        (.neighbour, "2026-11-24T02:00:00.000Z"),
        (.dangerous, "2026-11-24T02:00:00.000Z"),
        (.general, "2026-11-25T02:00:00.000Z"),
        (.major, "2026-11-25T02:00:00.000Z"),
        // Leak under warranty: by the end of the first rainy day after completion, local time
        // (2026-11-25 ends at 2026-11-26 00:00 +08:00 = 2026-11-25T16:00Z).
        (.leak, "2026-11-25T16:00:00.000Z"),
    ])
    func callbackDue(_ category: RepairCategory, _ expected: String) throws {
        let order = try completedOrder(category, completedAt: "2026-11-23T02:00:00.000Z")
        #expect(Deadlines.callbackDue(for: order, calendar: calendar).map(Timestamp.format) == expected)
    }

    @Test("a leak completed on a rainy day waits for the next rainy day; none recorded → no due time yet")
    func leakRainDays() throws {
        // 2026-11-25T03:00Z is 11:00 local on the 25th, itself a rain day: the next one is the 28th.
        let order = try completedOrder(.leak, completedAt: "2026-11-25T03:00:00.000Z")
        #expect(Deadlines.callbackDue(for: order, calendar: calendar).map(Timestamp.format) == "2026-11-28T16:00:00.000Z")
        #expect(Deadlines.callbackDue(for: order, calendar: EstateCalendar()) == nil)
    }

    @Test("a repair not completed has no callback due")
    func notCompleted() throws {
        let state = try WorkOrder.create(
            id: Fixtures.id("wo-x"), zone: Fixtures.zone, place: "p", category: .general, description: nil, reportedAt: Fixtures.morning,
            stamp: Fixtures.stamp(desk, 1_000))
        #expect(Deadlines.callbackDue(for: try WorkOrder(state), calendar: calendar) == nil)
    }

    @Test("a repair not started within 2 days escalates to the supervisor (001 §4.3.1.2)")
    func repairNotStarted() throws {
        var state = try WorkOrder.create(
            id: Fixtures.id("wo-late"), zone: Fixtures.zone, place: "B1 车库", category: .general, description: "灯坏",
            reportedAt: Fixtures.morning, stamp: Fixtures.stamp(desk, 1_000))
        let justBefore = Fixtures.morning.addingTimeInterval(2 * 86_400 - 1)
        let after = Fixtures.morning.addingTimeInterval(2 * 86_400 + 1)
        #expect(Escalation.evaluate([state], now: justBefore).isEmpty)
        let found = Escalation.evaluate([state], now: after)
        #expect(found.map(\.kind) == [.repairNotStarted])
        try WorkOrder.start(&state, at: Fixtures.morning.addingTimeInterval(86_400), stamp: Fixtures.stamp(desk, 2_000))
        #expect(Escalation.evaluate([state], now: after).isEmpty)
    }

    @Test("the same complaint unresolved after two rounds becomes major (001 §4.2.3.7)")
    func complaintEscalates() throws {
        var state = try Complaint.create(
            id: Fixtures.id("cp-1"), zone: Fixtures.zone, place: "7号楼", level: .minor, description: "楼上漏水",
            reportedAt: Fixtures.morning, stamp: Fixtures.stamp(desk, 1_000))
        _ = try Complaint.recordFix(&state, at: Fixtures.at(600), note: nil, stamp: Fixtures.stamp(desk, 2_000))
        _ = try Complaint.logCallback(&state, at: Fixtures.at(650), channel: .phone, reached: true, satisfaction: .unsatisfied, note: nil, stamp: Fixtures.stamp(desk, 3_000))
        #expect(try Complaint(state).effectiveLevel == .minor)
        #expect(try Complaint(state).rounds.count == 2)
        _ = try Complaint.recordFix(&state, at: Fixtures.at(900), note: nil, stamp: Fixtures.stamp(desk, 5_000))
        _ = try Complaint.logCallback(&state, at: Fixtures.at(950), channel: .visit, reached: true, satisfaction: .unsatisfied, note: nil, stamp: Fixtures.stamp(desk, 6_000))
        let complaint = try Complaint(state)
        #expect(complaint.isEscalated)
        #expect(complaint.effectiveLevel == .major)
        #expect(Escalation.evaluate([state], now: Fixtures.at(901)).map(\.kind).contains(.complaintEscalated))
    }

    @Test("complaint callback due: major within 1 week, others within 2 weeks of the fix (003 §4.4)", arguments: [
        (ComplaintLevel.major, 7.0), (.important, 14.0), (.minor, 14.0),
    ])
    func complaintCallbackDue(_ level: ComplaintLevel, _ days: Double) throws {
        var state = try Complaint.create(
            id: Fixtures.id("cp-\(level.rawValue)"), zone: Fixtures.zone, place: "p", level: level, description: "d",
            reportedAt: Fixtures.morning, stamp: Fixtures.stamp(desk, 1_000))
        _ = try Complaint.recordFix(&state, at: Fixtures.at(60), note: nil, stamp: Fixtures.stamp(desk, 2_000))
        #expect(Deadlines.callbackDue(for: try Complaint(state)) == Fixtures.at(60).addingTimeInterval(days * 86_400))
    }

    @Test("complaint fix due in working days: major 1, general 3; a Friday complaint skips the weekend")
    func complaintFixDue() throws {
        // 2026-11-27 is a Friday; 10:00 local.
        let friday = Timestamp.parse("2026-11-27T02:00:00.000Z")!
        let state = try Complaint.create(
            id: Fixtures.id("cp-fri"), zone: Fixtures.zone, place: "p", level: .major, description: "d", reportedAt: friday,
            stamp: Fixtures.stamp(desk, 1_000))
        #expect(Deadlines.fixDue(for: try Complaint(state), calendar: calendar).map(Timestamp.format) == "2026-11-30T02:00:00.000Z")
        let minor = try Complaint.create(
            id: Fixtures.id("cp-fri2"), zone: Fixtures.zone, place: "p", level: .minor, description: "d", reportedAt: friday,
            stamp: Fixtures.stamp(desk, 1_000))
        #expect(Deadlines.fixDue(for: try Complaint(minor), calendar: calendar).map(Timestamp.format) == "2026-12-02T02:00:00.000Z")
        #expect(Escalation.evaluate([minor], now: Timestamp.parse("2026-12-02T03:00:00.000Z")!).map(\.kind) == [.complaintFixOverdue])
    }

    @Test("a rectification notice past its deadline and still open is overdue (001 §4.3.1.1)")
    func rectificationOverdue() throws {
        var form = Fixtures.newForm()
        let li = Fixtures.author("A", "李管家")
        try InspectionForm.setResult(&form, item: "hygiene", result: .defect, at: Fixtures.at(1), stamp: Fixtures.stamp(li, 2_000))
        let notice = try InspectionForm.addNotice(
            &form, item: "hygiene", party: .cleaning, description: "楼道垃圾未清", deadline: Fixtures.at(24 * 60), at: Fixtures.at(2),
            stamp: Fixtures.stamp(li, 2_100))
        #expect(Escalation.evaluate([form], now: Fixtures.at(24 * 60 - 1)).isEmpty)
        #expect(Escalation.evaluate([form], now: Fixtures.at(24 * 60 + 1)).map(\.kind) == [.rectificationOverdue])
        // Marked rectified (allowed even after submission): no longer overdue.
        try InspectionForm.submit(&form, stamp: Fixtures.stamp(li, 2_200))
        try InspectionForm.setNoticeStatus(&form, notice: notice.id, to: .rectified, stamp: Fixtures.stamp(li, 2_300))
        #expect(Escalation.evaluate([form], now: Fixtures.at(24 * 60 + 1)).isEmpty)
        #expect(throws: ModelError.self) {
            try InspectionForm.setNoticeStatus(&form, notice: notice.id, to: .open, stamp: Fixtures.stamp(li, 2_400))
        }
    }

    @Test("a callback past due with no verdict is overdue; a verdict settles it")
    func callbackOverdue() throws {
        var order = try WorkOrder.create(
            id: Fixtures.id("wo-c"), zone: Fixtures.zone, place: "p", category: .dangerous, description: "爆管", reportedAt: Fixtures.morning,
            stamp: Fixtures.stamp(desk, 1_000))
        try WorkOrder.complete(&order, at: Fixtures.at(60), stamp: Fixtures.stamp(desk, 2_000))
        let late = Fixtures.at(60 + 24 * 60 + 1)
        #expect(Escalation.evaluate([order], now: late).map(\.kind) == [.callbackOverdue])
        var callback = try CallbackRecord.create(subject: order.id, subjectType: .workOrder, zone: Fixtures.zone, stamp: Fixtures.stamp(desk, 3_000))
        _ = try CallbackRecord.logAttempt(&callback, at: Fixtures.at(120), channel: .phone, reached: true, satisfaction: .satisfied, note: nil, stamp: Fixtures.stamp(desk, 3_100))
        #expect(Escalation.evaluate([order, callback], now: late).isEmpty)
    }
}
