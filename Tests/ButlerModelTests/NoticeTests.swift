import ButlerModel
import Foundation
import Testing

/// Rectification notices (问题整改通知单, 001 §4.3.1.1): raised from a defect to a responsible party
/// with a deadline, evidence photos before and after, resolved, verified, escalated when overdue.
@Suite("Rectification notices")
struct NoticeTests {
    static let li = Fixtures.author("li-handheld", "李管家")
    static let wang = Fixtures.author("wang-handheld", "王管家")
    static let zhou = Fixtures.author("zhou-tablet", "周主管")
    static let before = Fixtures.sha("before")
    static let after = Fixtures.sha("after")
    static let liDevice = Pusher(name: "li", role: .butler, replicas: [li.replica])
    static let wangDevice = Pusher(name: "wang", role: .butler, replicas: [wang.replica])
    static let zhouDevice = Pusher(name: "zhou", role: .supervisor, replicas: [zhou.replica])

    /// A form with `hygiene` recorded as a defect by Li and a notice to the cleaning contractor
    /// due a day after the morning.
    static func formWithNotice() throws -> (state: RecordState, notice: String) {
        var form = Fixtures.newForm("form-n", by: li)
        try InspectionForm.setResult(&form, item: "hygiene", result: .defect, note: "楼道堆放垃圾", at: Fixtures.at(1), stamp: Fixtures.stamp(li, 2_000))
        let notice = try InspectionForm.addNotice(
            &form, item: "hygiene", party: .cleaning, description: "清理3F楼道杂物", deadline: Fixtures.at(24 * 60), template: Fixtures.template,
            at: Fixtures.at(2), stamp: Fixtures.stamp(li, 2_100))
        return (form, notice.id)
    }

    // MARK: raising

    @Test("001 §4.3.1.1: a notice is raised from a defect; an ok, unrecorded or unknown item is refused and nothing changes")
    func needsDefect() throws {
        var form = Fixtures.newForm("form-n", by: Self.li)
        try InspectionForm.setResult(&form, item: "tiles", result: .ok, at: Fixtures.at(1), stamp: Fixtures.stamp(Self.li, 2_000))
        let untouched = form
        func raise(_ item: String) throws {
            _ = try InspectionForm.addNotice(
                &form, item: item, party: .engineering, description: nil, deadline: Fixtures.at(600), template: Fixtures.template,
                at: Fixtures.at(2), stamp: Fixtures.stamp(Self.li, 2_100))
        }
        #expect { try raise("tiles") } throws: { ($0 as? ModelError)?.code == .invalidValue }
        #expect { try raise("fire-door") } throws: { ($0 as? ModelError)?.code == .invalidValue }
        #expect { try raise("no-such-item") } throws: { ($0 as? ModelError)?.code == .unknownItem }
        #expect(form == untouched)

        // A defect, also one that beat a concurrent "ok" (defect wins), raises one.
        var wang = form
        try InspectionForm.setResult(&form, item: "fire-door", result: .defect, at: Fixtures.at(3), stamp: Fixtures.stamp(Self.li, 2_200))
        try wang.merge(try InspectionForm.setResult(&wang, item: "fire-door", result: .ok, at: Fixtures.at(3), stamp: Fixtures.stamp(Self.wang, 2_300)))
        try form.merge(wang)
        try raise("fire-door")
        let notice = try #require(try InspectionForm(form).notices.first)
        #expect(notice.item == "fire-door" && notice.party == .engineering && notice.status == .open && notice.description == nil)
    }

    @Test("001 §4.3.1.1: a notice is raised on a draft only; its follow-up (evidence, notes, progress) goes on after submission")
    func raisedOnDraft() throws {
        let raised = try Self.formWithNotice()
        var form = raised.state
        let notice = raised.notice
        try InspectionForm.submit(&form, stamp: Fixtures.stamp(Self.li, 2_500))
        #expect { try InspectionForm.addNotice(
            &form, item: "hygiene", party: .cleaning, description: nil, deadline: Fixtures.at(600), at: Fixtures.at(3),
            stamp: Fixtures.stamp(Self.li, 2_600)) } throws: { ($0 as? ModelError)?.code == .formSubmitted }
        try InspectionForm.attachNoticePhoto(&form, notice: notice, stage: .after, sha256: Self.after, stamp: Fixtures.stamp(Self.li, 2_700))
        try InspectionForm.progressNotice(&form, notice: notice, to: .rectified, note: "已清理", at: Fixtures.at(30), stamp: Fixtures.stamp(Self.li, 2_800))
        let view = try InspectionForm(form)
        #expect(view.notices.first?.photos == [.init(sha256: Self.after, stage: .after)])
        #expect(view.notices.first?.notes.map(\.text) == ["已清理"])
        #expect(view.notices.first?.status == .rectified)
        #expect(view.conflicts.isEmpty, "a notice's follow-up is not a late edit")
    }

    @Test("001 §4.3.1.1 deadline: a day is due by its end in the estate's time zone; a full ISO 8601 time as given; other text refused")
    func deadlineText() throws {
        let china = EstateCalendar()
        #expect(Timestamp.format(try RectificationNotice.deadline("2026-11-24", calendar: china)) == "2026-11-24T16:00:00.000Z")
        #expect(Timestamp.format(try RectificationNotice.deadline("2026-11-24", calendar: EstateCalendar(utcOffsetSeconds: 0))) == "2026-11-25T00:00:00.000Z")
        #expect(Timestamp.format(try RectificationNotice.deadline("2026-11-24T18:00:00+08:00", calendar: china)) == "2026-11-24T10:00:00.000Z")
        #expect(Timestamp.format(try RectificationNotice.deadline("2026-11-24T10:00:00.000Z", calendar: china)) == "2026-11-24T10:00:00.000Z")
        for bad in ["tomorrow", "2026-02-30", "24/11/2026", "2026-11-24T18:00", ""] {
            #expect(throws: ModelError.self, "\(bad)") { try RectificationNotice.deadline(bad, calendar: china) }
        }
    }

    @Test("001 §4.3.1.1 deadline: a deadline not after the moment the notice is raised is refused")
    func deadlineInPast() throws {
        var form = Fixtures.newForm("form-n", by: Self.li)
        try InspectionForm.setResult(&form, item: "hygiene", result: .defect, at: Fixtures.at(1), stamp: Fixtures.stamp(Self.li, 2_000))
        for deadline in [Fixtures.at(9), Fixtures.at(10)] {
            #expect { try InspectionForm.addNotice(
                &form, item: "hygiene", party: .cleaning, description: nil, deadline: deadline, at: Fixtures.at(10),
                stamp: Fixtures.stamp(Self.li, 2_100)) } throws: { ($0 as? ModelError)?.code == .invalidValue }
        }
        #expect(try InspectionForm(form).notices.isEmpty)
    }

    // MARK: progress

    @Test("001 §4.3.1.1 status order: open < rectified < verified; a notice never goes back, concurrent steps keep the furthest")
    func statusOrder() throws {
        let raised = try Self.formWithNotice()
        var form = raised.state
        let notice = raised.notice
        #expect { try InspectionForm.progressNotice(&form, notice: notice, to: .open, note: nil, at: Fixtures.at(3), stamp: Fixtures.stamp(Self.li, 3_000)) }
            throws: { ($0 as? ModelError)?.code == .invalidTransition }
        var supervisor = form
        try InspectionForm.progressNotice(&form, notice: notice, to: .rectified, note: "已清理", at: Fixtures.at(40), stamp: Fixtures.stamp(Self.li, 3_100))
        // The supervisor, not having seen the rectified step, verifies from open: verified stands.
        let verify = try InspectionForm.progressNotice(&supervisor, notice: notice, to: .verified, note: "复核合格", at: Fixtures.at(50), stamp: Fixtures.stamp(Self.zhou, 3_050))
        try form.merge(verify)
        let view = try #require(try InspectionForm(form).notices.first)
        #expect(view.status == .verified)
        #expect(view.notes.map(\.text).sorted() == ["复核合格", "已清理"], "both notes kept")
        #expect { try InspectionForm.progressNotice(&form, notice: notice, to: .rectified, note: nil, at: Fixtures.at(60), stamp: Fixtures.stamp(Self.li, 3_200)) }
            throws: { ($0 as? ModelError)?.code == .invalidTransition }
        #expect { try InspectionForm.progressNotice(&form, notice: "li-handheld:999", to: .rectified, note: nil, at: Fixtures.at(60), stamp: Fixtures.stamp(Self.li, 3_200)) }
            throws: { ($0 as? ModelError)?.code == .unknownRecord }
    }

    @Test("001 §4.3.1.1 overdue: an open notice past its deadline escalates with its evidence listed; rectified in time it does not")
    func overdueWithEvidence() throws {
        let raised = try Self.formWithNotice()
        var form = raised.state
        let notice = raised.notice
        try InspectionForm.attachNoticePhoto(&form, notice: notice, stage: .before, sha256: Self.before, stamp: Fixtures.stamp(Self.li, 2_200))
        #expect(Escalation.evaluate([form], now: Fixtures.at(24 * 60)).isEmpty, "due at the deadline, not yet overdue")
        let found = Escalation.evaluate([form], now: Fixtures.at(24 * 60 + 1))
        let escalation = try #require(found.first)
        #expect(found.count == 1 && escalation.kind == .rectificationOverdue)
        #expect(escalation.notice == RectificationNotice.Reference(form: form.id, notice: notice))
        #expect(escalation.evidence == [.init(sha256: Self.before, stage: .before)])
        let json = escalation.jsonValue
        #expect(json["notice"] == .string("form-n/\(notice)"))
        #expect(json["evidence"] == [["sha256": .string(Self.before), "stage": "before"]])
        for key in ["kind", "record", "zone", "since", "detail"] { #expect(json[key] != nil, "the existing key \(key) stays") }
        #expect(json["record"] == "form-n")
        // The notice's own view says so.
        let view = try #require(try InspectionForm(form).notices.first)
        #expect(view.jsonValue(in: try InspectionForm(form), now: Fixtures.at(24 * 60 + 1))["overdue"] == true)
        #expect(view.jsonValue(in: try InspectionForm(form), now: Fixtures.at(60))["overdue"] == false)

        // Rectified (even late): no longer escalated.
        try InspectionForm.progressNotice(&form, notice: notice, to: .rectified, note: nil, at: Fixtures.at(24 * 60 + 5), stamp: Fixtures.stamp(Self.li, 3_000))
        #expect(Escalation.evaluate([form], now: Fixtures.at(24 * 60 + 10)).isEmpty)

        // Other escalations carry no evidence key.
        let order = try WorkOrder.create(
            id: Fixtures.id("wo-n"), zone: Fixtures.zone, place: "p", category: .general, description: nil, reportedAt: Fixtures.morning,
            stamp: Fixtures.stamp(Self.li, 1_000))
        let repair = try #require(Escalation.evaluate([order], now: Fixtures.at(3 * 24 * 60)).first)
        #expect(repair.jsonValue["evidence"] == nil && repair.jsonValue["notice"] == nil)
    }

    // MARK: evidence

    @Test("001 §4.3.1.1 evidence: a detach concurrent with a re-attach of a notice photo keeps it, on the form and on the photo record")
    func concurrentEvidence() throws {
        let raised = try Self.formWithNotice()
        var form = raised.state
        let notice = raised.notice
        try InspectionForm.attachNoticePhoto(&form, notice: notice, stage: .before, sha256: Self.before, stamp: Fixtures.stamp(Self.li, 2_200))
        var wang = form
        let detach = try InspectionForm.detachNoticePhoto(&form, notice: notice, stage: .before, sha256: Self.before, stamp: Fixtures.stamp(Self.li, 3_000))
        #expect(try InspectionForm(form).notices.first?.photos == [])
        let reattach = try InspectionForm.attachNoticePhoto(&wang, notice: notice, stage: .before, sha256: Self.before, stamp: Fixtures.stamp(Self.wang, 2_900))
        #expect(!reattach.isEmpty, "an attach of a photo already shown mints a new dot")
        try form.merge(reattach)
        try wang.merge(detach)
        #expect(form == wang)
        #expect(try InspectionForm(form).notices.first?.photos == [.init(sha256: Self.before, stage: .before)])
        // A detach that has seen every attach removes it.
        try InspectionForm.detachNoticePhoto(&form, notice: notice, stage: .before, sha256: Self.before, stamp: Fixtures.stamp(Self.li, 3_100))
        #expect(try InspectionForm(form).notices.first?.photos == [])
        #expect { try InspectionForm.detachNoticePhoto(&form, notice: notice, stage: .before, sha256: Self.before, stamp: Fixtures.stamp(Self.li, 3_200)) }
            throws: { ($0 as? ModelError)?.code == .invalidValue }

        // The photo record's attachment to the notice is add-wins too.
        let id = try Photo.recordID(sha256: Self.before, zone: Fixtures.zone)
        var photo = RecordState(id: id, type: .photo, zone: Fixtures.zone)
        try photo.merge(try Photo.record(
            &photo, sha256: Self.before, bytes: 1_000, mediaType: "image/jpeg", takenAt: Fixtures.at(1), caption: nil, attachTo: form.id, notice: notice,
            stage: .before, stamp: Fixtures.stamp(Self.li, 2_200)))
        var other = photo
        let off = try Photo.detach(&photo, from: form.id, notice: notice, stage: .before, stamp: Fixtures.stamp(Self.li, 3_000))
        let on = try Photo.record(
            &other, sha256: Self.before, bytes: 1_000, mediaType: "image/jpeg", takenAt: Fixtures.at(1), caption: nil, attachTo: form.id, notice: notice,
            stage: .before, stamp: Fixtures.stamp(Self.wang, 2_900))
        try photo.merge(on)
        try other.merge(off)
        #expect(photo == other)
        let attachment = try #require(try Photo(photo).attachments.first)
        #expect(attachment.record == "form-n" && attachment.notice == notice && attachment.stage == .before && attachment.item == nil)
        #expect(try Photo(photo).jsonValue["attachments"]?.arrayValue?.first?["stage"] == "before")
    }

    @Test("001 §4.3.1.1 evidence: attaching needs an existing notice and a SHA-256; the schema knows only the before and after stages")
    func evidenceShape() throws {
        let raised = try Self.formWithNotice()
        var form = raised.state
        let notice = raised.notice
        #expect { try InspectionForm.attachNoticePhoto(&form, notice: "li-handheld:999", stage: .before, sha256: Self.before, stamp: Fixtures.stamp(Self.li, 3_000)) }
            throws: { ($0 as? ModelError)?.code == .unknownRecord }
        #expect(throws: ModelError.self) {
            try InspectionForm.attachNoticePhoto(&form, notice: notice, stage: .before, sha256: "abc", stamp: Fixtures.stamp(Self.li, 3_000))
        }
        let schema = FieldSchema.of(.inspectionForm)
        #expect(schema.field(for: try FieldPath("notices", notice, "photos", "before", Self.before))?.rule == .addWins)
        #expect(schema.field(for: try FieldPath("notices", notice, "photos", "after", Self.before))?.rule == .addWins)
        #expect(schema.field(for: try FieldPath("notices", notice, "photos", "during", Self.before)) == nil)
        #expect(schema.field(for: try FieldPath("notices", notice, "notes", "li-handheld:9"))?.rule == .notesKeepAll)
        #expect(FieldSchema.of(.photo).field(for: try FieldPath("attachments", "form-n", "notices", notice, "after"))?.rule == .addWins)
        #expect(FieldSchema.of(.photo).field(for: try FieldPath("attachments", "form-n", "notices", notice, "during")) == nil)
    }

    @Test("a notice is named <form id>/<notice id>; other text is refused")
    func reference() throws {
        let ref = try RectificationNotice.Reference("form-3f2a/li-handheld:7")
        #expect(ref.form == Fixtures.id("form-3f2a") && ref.notice == "li-handheld:7")
        #expect(ref.description == "form-3f2a/li-handheld:7")
        for bad in ["li-handheld:7", "form-3f2a/", "/li:7", "form-3f2a/a/b", "form 3f2a/li:7"] {
            #expect(throws: ModelError.self, "\(bad)") { try RectificationNotice.Reference(bad) }
        }
    }

    @Test("ResponsibleParty holds the parties of 001 §4.3.1.1 and other; the schema accepts each")
    func parties() throws {
        #expect(ResponsibleParty.allCases.map(\.rawValue) == ["cleaning", "greening", "engineering", "security", "other"])
        let field = try #require(FieldSchema.of(.inspectionForm).field(for: "notices/x:1/party"))
        for party in ResponsibleParty.allCases { try field.validate(.string(party.rawValue)) }
        #expect(throws: ModelError.self) { try field.validate("plumber") }
    }

    // MARK: who may do what (DeltaAdmission)

    @Test("001 §4.3.1.1 admission: a butler records a rectification; only a supervisor verifies; a butler's device cannot move a notice back")
    func verifyIsSupervisors() throws {
        let (stored, notice) = try Self.formWithNotice()
        var li = stored
        let rectify = try InspectionForm.progressNotice(&li, notice: notice, to: .rectified, note: "已清理", at: Fixtures.at(30), stamp: Fixtures.stamp(Self.li, 3_000))
        let rectified = try DeltaAdmission.admit(rectify, into: stored, by: Self.liDevice)
        #expect(try InspectionForm(rectified).notices.first?.status == .rectified)

        var butler = rectified
        let butlerVerify = try InspectionForm.progressNotice(&butler, notice: notice, to: .verified, note: nil, at: Fixtures.at(40), stamp: Fixtures.stamp(Self.li, 3_100))
        #expect { try DeltaAdmission.admit(butlerVerify, into: rectified, by: Self.liDevice) } throws: { ($0 as? ModelError)?.code == .roleForbidden }

        var zhou = rectified
        let verify = try InspectionForm.progressNotice(&zhou, notice: notice, to: .verified, note: "复核合格", at: Fixtures.at(50), stamp: Fixtures.stamp(Self.zhou, 3_200))
        let verified = try DeltaAdmission.admit(verify, into: rectified, by: Self.zhouDevice)
        #expect(try InspectionForm(verified).notices.first?.status == .verified)

        // A rogue butler's device writes "open" over the verified status it has seen: refused.
        var rogue = verified
        let back = rogue.write(try FieldPath("notices", notice, "status"), "open", stamp: Fixtures.stamp(Self.wang, 4_000))
        #expect { try DeltaAdmission.admit(back, into: verified, by: Self.wangDevice) } throws: { ($0 as? ModelError)?.code == .roleForbidden }
        // …or over the rectified one.
        var rogue2 = rectified
        let back2 = rogue2.write(try FieldPath("notices", notice, "status"), "open", stamp: Fixtures.stamp(Self.wang, 4_000))
        #expect { try DeltaAdmission.admit(back2, into: rectified, by: Self.wangDevice) } throws: { ($0 as? ModelError)?.code == .roleForbidden }
    }

    @Test("001 §4.3.1.1 admission: a rogue device cannot detach another butler's notice evidence; its author and a supervisor can")
    func evidenceDetach() throws {
        let raised = try Self.formWithNotice()
        var stored = raised.state
        let notice = raised.notice
        try InspectionForm.attachNoticePhoto(&stored, notice: notice, stage: .before, sha256: Self.before, stamp: Fixtures.stamp(Self.li, 2_200))
        func detach(by author: Author) throws -> RecordState {
            var copy = stored
            return try InspectionForm.detachNoticePhoto(&copy, notice: notice, stage: .before, sha256: Self.before, stamp: Fixtures.stamp(author, 3_000))
        }
        #expect { try DeltaAdmission.admit(try detach(by: Self.wang), into: stored, by: Self.wangDevice) } throws: { ($0 as? ModelError)?.code == .roleForbidden }
        // A bare erasure (context only, no value written) of Li's attach by Wang's device: refused too.
        let erase = try RecordState(
            id: stored.id, type: stored.type, zone: stored.zone,
            context: CausalContext(cloud: Set(stored.siblings(try FieldPath("notices", notice, "photos", "before", Self.before)).map(\.dot))), fields: [:])
        #expect { try DeltaAdmission.admit(erase, into: stored, by: Self.wangDevice) } throws: { ($0 as? ModelError)?.code == .roleForbidden }
        // A re-attach by Wang keeps the evidence: accepted.
        var wang = stored
        let reattach = try InspectionForm.attachNoticePhoto(&wang, notice: notice, stage: .before, sha256: Self.before, stamp: Fixtures.stamp(Self.wang, 3_000))
        #expect(try InspectionForm(try DeltaAdmission.admit(reattach, into: stored, by: Self.wangDevice)).notices.first?.photos.count == 1)
        // Li's own detach, and a supervisor's: accepted.
        #expect(try InspectionForm(try DeltaAdmission.admit(try detach(by: Self.li), into: stored, by: Self.liDevice)).notices.first?.photos == [])
        #expect(try InspectionForm(try DeltaAdmission.admit(try detach(by: Self.zhou), into: stored, by: Self.zhouDevice)).notices.first?.photos == [])

        // On the photo record likewise.
        let id = try Photo.recordID(sha256: Self.before, zone: Fixtures.zone)
        var photo = RecordState(id: id, type: .photo, zone: Fixtures.zone)
        try photo.merge(try Photo.record(
            &photo, sha256: Self.before, bytes: 1_000, mediaType: "image/jpeg", takenAt: Fixtures.at(1), caption: nil, attachTo: stored.id, notice: notice,
            stage: .before, stamp: Fixtures.stamp(Self.li, 2_200)))
        var copy = photo
        let off = try Photo.detach(&copy, from: stored.id, notice: notice, stage: .before, stamp: Fixtures.stamp(Self.wang, 3_000))
        #expect { try DeltaAdmission.admit(off, into: photo, by: Self.wangDevice) } throws: { ($0 as? ModelError)?.code == .roleForbidden }
    }
}
