import ButlerModel
import Foundation
import Testing

/// One example per resolution rule; the comment or name cites the procedure it comes from.
@Suite("Resolution rules")
struct RuleTests {
    let li = Fixtures.author("li", "李管家")
    let wang = Fixtures.author("wang", "王管家")
    let zhou = Fixtures.author("zhou", "周主管")

    /// Two replicas that both hold the freshly created form.
    func pair() -> (RecordState, RecordState) {
        let form = Fixtures.newForm(by: li)
        return (form, form)
    }

    @Test("defect-wins: a defect is not erased by a concurrent ok (DOMAIN; 001 §4.3.4 stairwell lights)")
    func defectWins() throws {
        var (a, b) = pair()
        let d1 = try InspectionForm.setResult(&a, item: "stairwell-lights", result: .defect, at: Fixtures.at(1), stamp: Fixtures.stamp(li, 2_000))
        // Wang's "ok" is later by every clock: it still loses to the concurrent defect.
        let d2 = try InspectionForm.setResult(&b, item: "stairwell-lights", result: .ok, at: Fixtures.at(9), stamp: Fixtures.stamp(wang, 9_000))
        try a.merge(d2)
        try b.merge(d1)
        #expect(a == b)
        let form = try InspectionForm(a)
        #expect(form.items["stairwell-lights"]?.result == .defect)
        let conflict = try #require(form.conflicts.first { $0.field == "items/stairwell-lights/result" })
        #expect(conflict.rule == .defectWins)
        #expect(conflict.values.map(\.author) == ["李管家", "王管家"])
        #expect(conflict.chosen == ["defect"])
    }

    @Test("defect-wins ranks ok above not-applicable")
    func okBeatsNA() throws {
        var (a, b) = pair()
        let d1 = try InspectionForm.setResult(&a, item: "elevator-running", result: .na, at: Fixtures.at(1), stamp: Fixtures.stamp(li, 9_000))
        let d2 = try InspectionForm.setResult(&b, item: "elevator-running", result: .ok, at: Fixtures.at(1), stamp: Fixtures.stamp(wang, 2_000))
        try a.merge(d2)
        try b.merge(d1)
        #expect(try InspectionForm(a).items["elevator-running"]?.result == .ok)
    }

    @Test("a later write over both siblings resolves the conflict")
    func writeOverResolves() throws {
        var (a, b) = pair()
        let d1 = try InspectionForm.setResult(&a, item: "tiles", result: .defect, at: Fixtures.at(1), stamp: Fixtures.stamp(li, 2_000))
        let d2 = try InspectionForm.setResult(&b, item: "tiles", result: .ok, at: Fixtures.at(1), stamp: Fixtures.stamp(wang, 2_000))
        try a.merge(d2)
        #expect(try InspectionForm(a).conflicts.count == 1)
        // Li re-checks and confirms ok, having seen both values.
        let d3 = try InspectionForm.setResult(&a, item: "tiles", result: .ok, at: Fixtures.at(20), stamp: Fixtures.stamp(li, 20_000))
        try b.merge(d1)
        try b.merge(d3)
        #expect(a == b)
        #expect(try InspectionForm(b).items["tiles"]?.result == .ok)
        #expect(try InspectionForm(b).conflicts.isEmpty)
    }

    @Test("notes-keep-all: concurrent notes are all kept with their authors")
    func notesKeepAll() throws {
        var (a, b) = pair()
        let d1 = try InspectionForm.addNote(&a, item: "fire-door", text: "防火门未关闭", at: Fixtures.at(1), stamp: Fixtures.stamp(li, 2_000))
        let d2 = try InspectionForm.addNote(&b, item: "fire-door", text: "门已关好", at: Fixtures.at(2), stamp: Fixtures.stamp(wang, 2_000))
        try a.merge(d2)
        try b.merge(d1)
        let notes = try InspectionForm(a).items["fire-door"]!.notes
        #expect(notes.map(\.author) == ["李管家", "王管家"])
        #expect(notes.map(\.text) == ["防火门未关闭", "门已关好"])
        #expect(a == b)
    }

    @Test("add-wins: a concurrent detach never drops a photo someone else attached (001 §4.3.1.1 evidence)")
    func photosAddWins() throws {
        let photo = Fixtures.sha("dark corridor")
        var (a, _) = pair()
        try InspectionForm.attachPhoto(&a, item: "stairwell-lights", sha256: photo, stamp: Fixtures.stamp(li, 2_000))
        var b = a
        // Li detaches, while Wang, who saw the photo, attaches the same picture again.
        let detach = try InspectionForm.detachPhoto(&a, item: "stairwell-lights", sha256: photo, stamp: Fixtures.stamp(li, 3_000))
        let reattach = b.write(try FieldPath("items", "stairwell-lights", "photos", photo), true, stamp: Fixtures.stamp(wang, 2_500))
        try a.merge(reattach)
        try b.merge(detach)
        #expect(a == b)
        #expect(try InspectionForm(a).items["stairwell-lights"]?.photos == [photo])
        // A detach that saw every attach removes it.
        try InspectionForm.detachPhoto(&a, item: "stairwell-lights", sha256: photo, stamp: Fixtures.stamp(li, 4_000))
        #expect(try InspectionForm(a).items["stairwell-lights"]?.photos ?? [] == [])
    }

    @Test("attaching the same photo twice shows it once; the second attach is a new entry replacing the first (issue 13: so a concurrent detach cannot drop it)")
    func samePhotoTwice() throws {
        var (a, _) = pair()
        let photo = Fixtures.sha("meter")
        try InspectionForm.attachPhoto(&a, item: "water-meter", sha256: photo, stamp: Fixtures.stamp(li, 2_000))
        let again = try InspectionForm.attachPhoto(&a, item: "water-meter", sha256: photo, stamp: Fixtures.stamp(li, 2_001))
        #expect(!again.fields.isEmpty)
        #expect(try InspectionForm(a).items["water-meter"]?.photos == [photo])
        #expect(a.siblings(try FieldPath("items", "water-meter", "photos", photo)).count == 1)
    }

    @Test("status-monotone: draft < submitted < reviewed < closed; reopen starts a new round")
    func statusMonotone() throws {
        var (a, b) = pair()
        try InspectionForm.submit(&a, stamp: Fixtures.stamp(li, 2_000))
        b = try b.merged(with: a)
        // The supervisor reviews while the butler (who has not seen the review) submits nothing new.
        let review = try InspectionForm.review(&b, note: "已复核", at: Fixtures.at(30), stamp: Fixtures.stamp(zhou, 3_000))
        try a.merge(review)
        #expect(try InspectionForm(a).status.state == .reviewed)
        // Reopen beats a concurrent close: the explicit reopen opens round 2.
        var c = a
        let close = try InspectionForm.close(&a, stamp: Fixtures.stamp(zhou, 4_000))
        let reopen = try InspectionForm.reopen(&c, stamp: Fixtures.stamp(li, 3_500))
        try a.merge(reopen)
        try c.merge(close)
        #expect(a == c)
        let status = try InspectionForm(a).status
        #expect(status.state == .draft && status.round == 2)
        // In round 2 the butler may edit again.
        try InspectionForm.setResult(&a, item: "tiles", result: .ok, at: Fixtures.at(40), stamp: Fixtures.stamp(li, 5_000))
    }

    @Test("a status cannot go backwards or skip: typed errors")
    func invalidTransitions() throws {
        var (a, _) = pair()
        #expect(throws: ModelError.self) { try InspectionForm.review(&a, at: Fixtures.at(1), stamp: Fixtures.stamp(zhou, 2_000)) }
        #expect(throws: ModelError.self) { try InspectionForm.reopen(&a, stamp: Fixtures.stamp(li, 2_000)) }
        try InspectionForm.submit(&a, stamp: Fixtures.stamp(li, 2_000))
        do {
            try InspectionForm.submit(&a, stamp: Fixtures.stamp(li, 2_100))
            Issue.record("submitting twice must fail")
        } catch let error as ModelError {
            #expect(error.code == .invalidTransition)
        }
    }

    @Test("the client refuses edits to a form it knows is submitted, leaving it unchanged (DESIGN form status)")
    func refusesEditsAfterSubmit() throws {
        var (a, _) = pair()
        try InspectionForm.submit(&a, stamp: Fixtures.stamp(li, 2_000))
        let before = a
        do {
            try InspectionForm.setResult(&a, item: "tiles", result: .ok, at: Fixtures.at(1), stamp: Fixtures.stamp(li, 3_000))
            Issue.record("editing a submitted form must fail")
        } catch let error as ModelError {
            #expect(error.code == .formSubmitted)
        }
        #expect(a == before)
    }

    @Test("late-edit: an edit concurrent with submission is kept and flagged; the review clears it")
    func lateEdit() throws {
        var (a, b) = pair()
        // Li submits; Wang, offline, still records two more defects on the same form.
        let submit = try InspectionForm.submit(&a, stamp: Fixtures.stamp(li, 2_000))
        let late1 = try InspectionForm.setResult(&b, item: "walls-ceiling", result: .defect, at: Fixtures.at(5), stamp: Fixtures.stamp(wang, 2_500))
        let late2 = try InspectionForm.setResult(&b, item: "tiles", result: .defect, at: Fixtures.at(6), stamp: Fixtures.stamp(wang, 2_600))
        for d in [late1, late2] { try a.merge(d) }
        try b.merge(submit)
        #expect(a == b)
        let form = try InspectionForm(a)
        #expect(form.items["walls-ceiling"]?.result == .defect, "the late edit is kept")
        let flagged = form.conflicts.filter { $0.rule == .lateEdit }
        #expect(flagged.map(\.field) == ["items/tiles/result", "items/walls-ceiling/result"])
        // The supervisor reviews having seen them: no longer flagged.
        try InspectionForm.review(&a, at: Fixtures.at(60), stamp: Fixtures.stamp(zhou, 9_000))
        #expect(try InspectionForm(a).conflicts.filter { $0.rule == .lateEdit }.isEmpty)
    }

    @Test("lww-hlc: plain scalars go to the later hybrid time; equal times break by replica id")
    func lastWriterWins() throws {
        var (a, b) = pair()
        let d1 = try InspectionForm.setField(&a, "weather", to: "晴", stamp: Fixtures.stamp(li, 5_000, 1))
        let d2 = try InspectionForm.setField(&b, "weather", to: "雨", stamp: Fixtures.stamp(wang, 5_000, 0))
        try a.merge(d2)
        try b.merge(d1)
        #expect(try InspectionForm(a).weather == "晴", "(5000,1) is after (5000,0)")
        var (c, d) = pair()
        let e1 = try InspectionForm.setField(&c, "weather", to: "晴", stamp: Fixtures.stamp(li, 5_000))
        let e2 = try InspectionForm.setField(&d, "weather", to: "雨", stamp: Fixtures.stamp(wang, 5_000))
        try c.merge(e2)
        try d.merge(e1)
        #expect(try InspectionForm(c).weather == "雨", "a tie goes to the larger replica id: wang > li")
        #expect(c == d)
    }

    @Test("callback-by-time: attempts ordered by when they happened, not by sync order (001 §4.2.2.3)")
    func callbackByTime() throws {
        let wo = Fixtures.id("wo-1")
        var desk = try CallbackRecord.create(subject: wo, subjectType: .workOrder, zone: Fixtures.zone, stamp: Fixtures.stamp(zhou, 1_000))
        var butler = desk
        // The desk's phone call happened later, but syncs first; the butler's earlier visit syncs last.
        let call = try CallbackRecord.logAttempt(&desk, at: Fixtures.at(120), channel: .phone, reached: true, satisfaction: .satisfied, note: nil, stamp: Fixtures.stamp(zhou, 2_000)).delta
        let visit = try CallbackRecord.logAttempt(&butler, at: Fixtures.at(60), channel: .visit, reached: true, satisfaction: .unsatisfied, note: "还在滴水", stamp: Fixtures.stamp(li, 9_000)).delta
        try desk.merge(visit)
        try butler.merge(call)
        #expect(desk == butler)
        let record = try CallbackRecord(desk)
        #expect(record.attempts.map(\.channel) == [.visit, .phone])
        #expect(record.outcome == .satisfied)
    }

    @Test("callback-by-time: unsatisfied wins a tie")
    func unsatisfiedWinsTie() throws {
        var record = try CallbackRecord.create(subject: Fixtures.id("wo-2"), subjectType: .workOrder, zone: Fixtures.zone, stamp: Fixtures.stamp(zhou, 1_000))
        // Logged on two devices that had not seen each other's attempt (issue 13: one logged after
        // seeing the other would simply come after it).
        var other = record
        _ = try CallbackRecord.logAttempt(&record, at: Fixtures.at(60), channel: .phone, reached: true, satisfaction: .satisfied, note: nil, stamp: Fixtures.stamp(zhou, 2_000))
        try record.merge(try CallbackRecord.logAttempt(&other, at: Fixtures.at(60), channel: .visit, reached: true, satisfaction: .unsatisfied, note: nil, stamp: Fixtures.stamp(li, 2_000)).delta)
        let view = try CallbackRecord(record)
        #expect(view.outcome == .unsatisfied)
        #expect(view.outcomeExplanation.contains("unsatisfied wins the tie"))
    }

    @Test("an unreachable resident: pending until 3 failed attempts, then unreachable (003)")
    func unreachable() throws {
        var record = try CallbackRecord.create(subject: Fixtures.id("wo-3"), subjectType: .workOrder, zone: Fixtures.zone, stamp: Fixtures.stamp(zhou, 1_000))
        for n in 0..<3 {
            #expect(try CallbackRecord(record).outcome == .pending)
            _ = try CallbackRecord.logAttempt(&record, at: Fixtures.at(Double(n * 60)), channel: .phone, reached: false, satisfaction: nil, note: nil, stamp: Fixtures.stamp(li, 2_000 + Int64(n)))
        }
        #expect(try CallbackRecord(record).outcome == .unreachable)
        #expect(throws: ModelError.self) {
            try CallbackRecord.logAttempt(&record, at: Fixtures.at(1), channel: .sms, reached: false, satisfaction: .satisfied, note: nil, stamp: Fixtures.stamp(li, 3_000))
        }
    }

    @Test("the same photo imported on two devices is one record; concurrent attachments all survive")
    func photoRecordsMerge() throws {
        let sha = Fixtures.sha("leak")
        let id = try Photo.recordID(sha256: sha, zone: Fixtures.zone)
        var a = RecordState(id: id, type: .photo, zone: Fixtures.zone)
        var b = a
        let d1 = try Photo.record(&a, sha256: sha, bytes: 2_000_000, mediaType: "image/jpeg", takenAt: Fixtures.at(1), caption: "漏水", attachTo: Fixtures.id("form-1"), item: "rain-pipes", stamp: Fixtures.stamp(li, 2_000))
        let d2 = try Photo.record(&b, sha256: sha, bytes: 2_000_000, mediaType: "image/jpeg", takenAt: Fixtures.at(1), caption: nil, attachTo: Fixtures.id("wo-9"), item: nil, stamp: Fixtures.stamp(wang, 2_000))
        try a.merge(d2)
        try b.merge(d1)
        #expect(a == b)
        let photo = try Photo(a)
        #expect(photo.attachments.count == 2)
        #expect(photo.caption == "漏水")
    }

    @Test("merging a different record is refused and changes nothing")
    func mismatch() throws {
        var a = Fixtures.newForm("form-1")
        let before = a
        let other = Fixtures.newForm("form-2")
        #expect(throws: ModelError.self) { try a.merge(other) }
        #expect(a == before)
    }
}

/// Photos on a form's items (issue 13): add-wins through the API, not only through raw writes.
@Suite struct PhotoAttachRuleTests {
    static let li = Fixtures.author("li-handheld", "李管家")
    static let wang = Fixtures.author("wang-handheld", "王管家")
    static let sha = Fixtures.sha("corridor")

    @Test("every attach mints a new dot, also of a photo already shown; a detach concurrent with a re-attach keeps the photo")
    func reattachMintsADot() throws {
        var li = Fixtures.newForm()
        let first = try InspectionForm.attachPhoto(&li, item: "stairwell-lights", sha256: Self.sha, stamp: Fixtures.stamp(Self.li, 2_000))
        var wang = li
        let again = try InspectionForm.attachPhoto(&wang, item: "stairwell-lights", sha256: Self.sha, stamp: Fixtures.stamp(Self.wang, 2_500))
        #expect(!again.isEmpty && Set(again.fields.values.flatMap(\.keys)) != Set(first.fields.values.flatMap(\.keys)))
        let detach = try InspectionForm.detachPhoto(&li, item: "stairwell-lights", sha256: Self.sha, stamp: Fixtures.stamp(Self.li, 3_000))
        #expect(try InspectionForm(li).items["stairwell-lights"]?.photos ?? [] == [])
        try li.merge(again)
        try wang.merge(detach)
        #expect(li == wang)
        #expect(try InspectionForm(li).items["stairwell-lights"]?.photos == [Self.sha])
        #expect(InspectionForm.items(holding: Self.sha, in: li) == ["stairwell-lights"])
    }

    @Test("the server admits a colleague's re-attach (it keeps the evidence) and refuses a colleague's detach")
    func admission() throws {
        var stored = Fixtures.newForm()
        try stored.merge(try InspectionForm.attachPhoto(&stored, item: "fire-door", sha256: Self.sha, stamp: Fixtures.stamp(Self.li, 2_000)))
        let wangDevice = Pusher(name: "wang", role: .butler, replicas: [Self.wang.replica])
        var wang = stored
        let reattach = try InspectionForm.attachPhoto(&wang, item: "fire-door", sha256: Self.sha, stamp: Fixtures.stamp(Self.wang, 2_500))
        #expect(try InspectionForm(try DeltaAdmission.admit(reattach, into: stored, by: wangDevice)).items["fire-door"]?.photos == [Self.sha])
        var other = stored
        let detach = try InspectionForm.detachPhoto(&other, item: "fire-door", sha256: Self.sha, stamp: Fixtures.stamp(Self.wang, 2_600))
        #expect { try DeltaAdmission.admit(detach, into: stored, by: wangDevice) } throws: { ($0 as? ModelError)?.code == .roleForbidden }
    }

    @Test("detaching a photo the item does not show is invalid-value and changes nothing")
    func detachMissing() throws {
        var state = Fixtures.newForm()
        let before = state
        #expect {
            try InspectionForm.detachPhoto(&state, item: "stairwell-lights", sha256: Self.sha, stamp: Fixtures.stamp(Self.li, 2_000))
        } throws: { ($0 as? ModelError)?.code == .invalidValue }
        #expect(state == before)
    }
}

/// Honest callback times (issue 13).
@Suite struct CallbackTimeRuleTests {
    static let desk = Fixtures.author("desk-pc", "前台")
    static let li = Fixtures.author("li-handheld", "李管家")

    static func callback() throws -> RecordState {
        var state = RecordState(id: try CallbackRecord.recordID(for: RecordID("wo-1")), type: .callback, zone: Fixtures.zone)
        try state.merge(try CallbackRecord.create(subject: RecordID("wo-1"), subjectType: .workOrder, zone: Fixtures.zone, stamp: Fixtures.stamp(desk, 1_000)))
        return state
    }

    @Test("verdicts within the tie window are concurrent: unsatisfied wins; further apart, the later decides")
    func tieWindow() throws {
        for (minutesApart, expected) in [(5.0, CallbackRecord.Outcome.unsatisfied), (20.0, .satisfied)] {
            var state = try Self.callback()
            var desk = state  // the desk has not seen Li's visit
            _ = try CallbackRecord.logAttempt(&state, at: Fixtures.at(60), channel: .visit, reached: true, satisfaction: .unsatisfied, note: nil, stamp: Fixtures.stamp(Self.li, 2_000))
            try state.merge(try CallbackRecord.logAttempt(
                &desk, at: Fixtures.at(60 + minutesApart), channel: .phone, reached: true, satisfaction: .satisfied, note: nil, stamp: Fixtures.stamp(Self.desk, 2_100)).delta)
            #expect(try CallbackRecord(state).outcome == expected, "\(minutesApart) minutes apart")
        }
    }

    @Test("an attempt logged after its author saw another comes after it, whatever the clocks say")
    func causalOrder() throws {
        var state = try Self.callback()
        // The desk phones at 11:00 by a correct clock; Li, whose handheld runs 40 minutes slow,
        // visits after seeing the call: her attempt is dated 10:30 but comes after it.
        _ = try CallbackRecord.logAttempt(&state, at: Fixtures.at(120), channel: .phone, reached: true, satisfaction: .satisfied, note: nil, stamp: Fixtures.stamp(Self.desk, 2_000))
        _ = try CallbackRecord.logAttempt(&state, at: Fixtures.at(90), channel: .visit, reached: true, satisfaction: .unsatisfied, note: "还在滴水", stamp: Fixtures.stamp(Self.li, 2_100))
        let record = try CallbackRecord(state)
        #expect(record.attempts.map(\.channel) == [.phone, .visit])
        #expect(record.outcome == .unsatisfied)
    }

    @Test("an attempt dated after its recording (beyond the slack) is invalid-value; one dated at or before it passes")
    func datedAhead() throws {
        var state = try Self.callback()
        let recordedMillis = Int64(Fixtures.at(60).timeIntervalSince1970 * 1000)
        let honest = try CallbackRecord.logAttempt(
            &state, at: Fixtures.at(55), channel: .phone, reached: false, satisfaction: nil, note: nil, stamp: Fixtures.stamp(Self.li, recordedMillis)).delta
        #expect(throws: Never.self) { try CallbackRecord.checkAttemptTimes(honest) }
        let slack = try CallbackRecord.logAttempt(
            &state, at: Fixtures.at(65), channel: .phone, reached: false, satisfaction: nil, note: nil, stamp: Fixtures.stamp(Self.li, recordedMillis + 1)).delta
        #expect(throws: Never.self) { try CallbackRecord.checkAttemptTimes(slack) }
        let future = try CallbackRecord.logAttempt(
            &state, at: Fixtures.at(60 + 24 * 60), channel: .visit, reached: true, satisfaction: .satisfied, note: nil, stamp: Fixtures.stamp(Self.li, recordedMillis + 2)).delta
        #expect { try CallbackRecord.checkAttemptTimes(future) } throws: { ($0 as? ModelError)?.code == .invalidValue }
    }

    @Test("a claim to follow an attempt recorded later than the claimant cannot be true and is ignored")
    func impossibleAfter() throws {
        var desk = try Self.callback()
        let li = desk
        let call = try CallbackRecord.logAttempt(&desk, at: Fixtures.at(120), channel: .phone, reached: true, satisfaction: .unsatisfied, note: nil, stamp: Fixtures.stamp(Self.desk, 2_000))
        // Li never held the call (her clock is behind its recording) but claims to follow it, to make her verdict the last.
        let attempt: JSONValue = [
            "at": .string(Timestamp.format(Fixtures.at(90))), "channel": "visit", "reached": true, "satisfaction": "satisfied",
            "after": [.string(call.id)],
        ]
        var forged = li
        forged.write(try FieldPath("attempts", "li-handheld:9"), attempt, stamp: Fixtures.stamp(Self.li, 1_900))
        try forged.merge(call.delta)
        let record = try CallbackRecord(forged)
        #expect(record.attempts.map(\.channel) == [.visit, .phone], "ordered by time: the claim is ignored")
        #expect(record.outcome == .unsatisfied)
    }
}
