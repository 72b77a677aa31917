import ButlerModel
import Foundation
import Testing

/// A butler's morning (`butler today`): every pending deadline of 001 §4.2–4.3, 003 §4.4 and 004 §三,
/// soonest first, overdue exactly when the supervisor sees an escalation.
@Suite("A butler's agenda")
struct AgendaTests {
    let desk = Fixtures.author("desk", "前台")
    let li = Fixtures.author("A", "李管家")

    func order(_ id: String, _ category: RepairCategory, completedAt: Date? = nil, zone: Zone = Fixtures.zone) throws -> RecordState {
        var state = try WorkOrder.create(
            id: Fixtures.id(id), zone: zone, place: "5号楼 301", category: category, description: "灯坏", reportedAt: Fixtures.morning,
            stamp: Fixtures.stamp(desk, 1_000))
        if let completedAt { try WorkOrder.complete(&state, at: completedAt, stamp: Fixtures.stamp(desk, 2_000)) }
        return state
    }

    func complaint(_ id: String, _ level: ComplaintLevel) throws -> RecordState {
        try Complaint.create(
            id: Fixtures.id(id), zone: Fixtures.zone, place: "7号楼 502", level: level, description: "楼上漏水", reportedAt: Fixtures.morning,
            stamp: Fixtures.stamp(desk, 1_000))
    }

    /// A submitted form with a notice to the cleaning contractor due `due`.
    func formWithNotice(_ id: String, due: Date) throws -> (RecordState, String) {
        var form = Fixtures.newForm(id, by: li)
        try InspectionForm.setResult(&form, item: "hygiene", result: .defect, at: Fixtures.at(1), stamp: Fixtures.stamp(li, 2_000))
        let notice = try InspectionForm.addNotice(
            &form, item: "hygiene", party: .cleaning, description: "清理3F楼道杂物", deadline: due, at: Fixtures.at(2), stamp: Fixtures.stamp(li, 2_100))
        try InspectionForm.submit(&form, stamp: Fixtures.stamp(li, 2_200))
        return (form, notice.id)
    }

    /// A morning's records: a draft, a notice due in 6 h, a repair not started, a completed general
    /// repair, a minor complaint not fixed.
    func morning() throws -> [RecordState] {
        let (noticed, _) = try formWithNotice("form-noticed", due: Fixtures.at(6 * 60))
        return [
            Fixtures.newForm("form-draft", by: li), noticed, try order("wo-waiting", .general),
            try order("wo-done", .general, completedAt: Fixtures.at(60)), try complaint("cp-minor", .minor),
        ]
    }

    @Test("001 §4.2.2.3, §4.3.1.1–2, 004 §三: every pending deadline soonest first, drafts after the dated entries")
    func soonestFirst() throws {
        let agenda = Agenda(try morning(), now: Fixtures.at(120))
        #expect(agenda.items.map(\.kind) == [.notice, .repairStart, .callback, .complaintFix, .draft])
        #expect(agenda.items.map(\.record.rawValue) == ["form-noticed", "wo-waiting", "wo-done", "cp-minor", "form-draft"])
        #expect(agenda.items.map(\.due) == [
            Fixtures.at(6 * 60), Fixtures.at(2 * 24 * 60), Fixtures.at(60 + 2 * 24 * 60),
            // Reported Monday 09:00 local: 3 working days → Thursday 09:00.
            Fixtures.at(3 * 24 * 60), nil,
        ])
        #expect(agenda.items.allSatisfy { !$0.overdue && $0.escalation == nil })
        #expect(agenda.items[0].notice?.form.rawValue == "form-noticed" && agenda.items[0].what.contains("cleaning"))
        #expect(agenda.items[2].place == "5号楼 301" && agenda.items[2].what.contains("general"))
        #expect(agenda.items[4].since == Fixtures.morning)
    }

    @Test("001 §4.3.1.2: an entry is overdue exactly when its escalation applies at that instant", arguments: [0.0, 300, 361, 2_881, 2_941, 4_321, 43_200] as [Double])
    func overdueIsEscalation(_ minutes: Double) throws {
        let records = try morning()
        let now = Fixtures.at(minutes)
        let agenda = Agenda(records, now: now)
        let escalations = Escalation.evaluate(records, now: now)
        let overdue = agenda.items.filter(\.overdue)
        #expect(Set(overdue.map { "\($0.escalation?.rawValue ?? "-") \($0.record)" }) == Set(escalations.map { "\($0.kind.rawValue) \($0.record)" }))
        #expect(overdue.allSatisfy { $0.due! < now } && agenda.items.filter { !$0.overdue }.allSatisfy { $0.due.map { $0 >= now } ?? true })
        #expect(agenda.items.count == 5, "overdue entries stay listed until the work is done")
    }

    @Test("004 §三: a leak repair's callback waits for rain with no due time, then is due after the first rain day")
    func leakWaitsForRain() throws {
        let leak = try order("wo-leak", .leak, completedAt: Fixtures.at(60))
        let dry = Agenda([leak], now: Fixtures.at(120))
        #expect(dry.items.count == 1)
        #expect(dry.items.first?.kind == .callback && dry.items.first?.due == nil && dry.items.first?.waitingFor == "rain")
        #expect(dry.items.first?.since == Fixtures.at(60))
        let rainy = EstateCalendar(zoneRainDays: [Fixtures.zone: [try EstateCalendar.Day("2026-11-25")]])
        let wet = Agenda([leak], now: Fixtures.at(120), calendar: rainy)
        #expect(wet.items.map(\.waitingFor) == [nil])
        #expect(wet.items.first?.due == Deadlines.callbackDue(for: try WorkOrder(leak), calendar: rainy))
    }

    @Test("001 §4.2.3.7, 003 §4.4: a complaint unresolved after two rounds is listed as escalated, its new round held to the major deadline")
    func escalatedComplaint() throws {
        var state = try complaint("cp-twice", .minor)
        for (round, minute) in [(1, 600.0), (2, 900.0)] {
            _ = try Complaint.recordFix(&state, at: Fixtures.at(minute), note: nil, stamp: Fixtures.stamp(desk, Int64(round * 10_000)))
            _ = try Complaint.logCallback(
                &state, at: Fixtures.at(minute + 50), channel: .phone, reached: true, satisfaction: .unsatisfied, note: nil,
                stamp: Fixtures.stamp(desk, Int64(round * 10_000 + 1)))
        }
        let agenda = Agenda([state], now: Fixtures.at(1_000))
        #expect(agenda.items.map(\.kind) == [.complaintFix, .complaintEscalated])
        let round3 = try #require(try Complaint(state).currentRound?.openedAt)
        #expect(agenda.items[0].due == EstateCalendar().addingWorkingDays(1, to: round3) && agenda.items[0].what.hasPrefix("major"))
        #expect(agenda.items[1].due == nil && agenda.items[1].escalation == .complaintEscalated && !agenda.items[1].overdue)
    }

    @Test("003 §4.4: a fixed complaint's callback is due; a settled callback, a submitted form and other zones leave the agenda")
    func settledAndZones() throws {
        var fixed = try complaint("cp-fixed", .major)
        _ = try Complaint.recordFix(&fixed, at: Fixtures.at(60), note: nil, stamp: Fixtures.stamp(desk, 2_000))
        let done = try order("wo-done", .dangerous, completedAt: Fixtures.at(60))
        var callback = try CallbackRecord.create(subject: done.id, subjectType: .workOrder, zone: Fixtures.zone, stamp: Fixtures.stamp(desk, 3_000))
        let elsewhere = try order("wo-west", .general, zone: Zone("west-1"))
        var submitted = Fixtures.newForm("form-submitted", by: li)
        try InspectionForm.submit(&submitted, stamp: Fixtures.stamp(li, 2_000))

        let before = Agenda([fixed, done, callback, elsewhere, submitted], now: Fixtures.at(120), zones: [Fixtures.zone])
        #expect(before.items.map(\.kind) == [.callback, .complaintCallback])
        #expect(before.items[1].due == Fixtures.at(60 + 7 * 24 * 60))
        _ = try CallbackRecord.logAttempt(
            &callback, at: Fixtures.at(90), channel: .phone, reached: true, satisfaction: .satisfied, note: nil, stamp: Fixtures.stamp(desk, 3_100))
        let after = Agenda([fixed, done, callback, elsewhere, submitted], now: Fixtures.at(120), zones: [Fixtures.zone])
        #expect(after.items.map(\.kind) == [.complaintCallback])
        #expect(Agenda([elsewhere], now: Fixtures.at(120)).items.map(\.record.rawValue) == ["wo-west"], "no zones given: every zone")
    }

    @Test("the agenda's JSON: camelCase keys, full ids, ISO 8601 UTC times, every key present")
    func json() throws {
        let (form, notice) = try formWithNotice("form-noticed", due: Fixtures.at(6 * 60))
        let agenda = Agenda([form], now: Fixtures.at(7 * 60), zones: [Fixtures.zone])
        let item = try #require(agenda.jsonValue["items"]?.arrayValue?.first)
        #expect(agenda.jsonValue["now"] == "2026-11-23T08:00:00.000Z" && agenda.jsonValue["zones"] == ["east-3"])
        #expect(item["kind"] == "notice" && item["record"] == "form-noticed" && item["notice"] == .string("form-noticed/\(notice)"))
        #expect(item["due"] == "2026-11-23T07:00:00.000Z" && item["overdue"] == true && item["escalation"] == "rectification-overdue")
        #expect(item["waitingFor"] == .null && item["since"] == .null && item["place"] == "3号楼2单元 楼梯间")
        #expect(Set(try #require(item.objectValue).keys) == [
            "kind", "record", "notice", "zone", "place", "what", "due", "overdue", "escalation", "waitingFor", "since",
        ])
    }
}

/// Short ids, as git abbreviates commits (issue 13, "a butler's morning").
@Suite("Short record ids")
struct ShortIDTests {
    @Test("the shortest unique prefix, at least 8 characters after the type prefix; the whole id when nothing shorter is unique")
    func shortForms() throws {
        let ids = try [
            "form-aaaaaaaabbbb-1", "form-aaaaaaaabbbc-2", "form-12345678-x", "wo-12345678-x", "cp-1", "form-abc", "form-abcdefghijk",
        ].map(RecordID.init)
        let short = RecordID.shortForms(ids)
        #expect(short[ids[0]] == "form-aaaaaaaabbbb" && short[ids[1]] == "form-aaaaaaaabbbc")
        #expect(short[ids[2]] == "form-12345678" && short[ids[3]] == "wo-12345678")
        #expect(short[ids[4]] == "cp-1" && short[ids[5]] == "form-abc" && short[ids[6]] == "form-abcdefgh")
        #expect(ids[0].typePrefix == "form-" && ids[4].typePrefix == "cp-")
    }

    @Test("every short form is a prefix of its id that no other id starts with", arguments: [1, 2, 3])
    func uniqueProperty(_ seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        // Two digits only, so ids share prefixes longer than the minimum.
        let ids = try (0..<300).map { _ in try RecordID("form-" + String((0..<16).map { _ in rng.next() % 2 == 0 ? "0" : "1" })) }
        let short = RecordID.shortForms(ids)
        for id in Set(ids) {
            let s = try #require(short[id], "seed \(seed)")
            #expect(id.starts(with: s) && s.utf8.count >= min(id.rawValue.utf8.count, 13), "seed \(seed): \(id)")
            #expect(Set(ids).filter { $0.starts(with: s) } == [id] || s == id.rawValue, "seed \(seed): \(s) is not unique")
        }
    }
}
