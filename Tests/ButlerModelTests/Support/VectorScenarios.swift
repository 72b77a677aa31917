import ButlerModel
import Foundation

/// The scenarios behind `Protocol/vectors/*.json`.
///
/// Each scenario plays edits on replicas with the model's edit API and keeps the deltas they
/// produced as the vector's inputs; its `checks` are the hand-stated outcomes (JSON pointer →
/// value into the resolved view) that the generator asserts before writing a file, so a vector's
/// expected state is never just whatever the code happened to produce.
struct VectorScenario {
    let name: String
    let description: String
    let covers: [String]
    var inputs: [RecordState] = []
    var checks: [(String, JSONValue)] = []
}

enum VectorScenarios {
    static let li = Fixtures.author("li-handheld", "李管家")
    static let wang = Fixtures.author("wang-handheld", "王管家")
    static let zhou = Fixtures.author("zhou-tablet", "周主管")
    static let desk = Fixtures.author("front-desk", "前台")
    static let photoA = Fixtures.sha("photo-a")
    static let photoB = Fixtures.sha("photo-b")

    static func s(_ a: Author, _ ms: Int64, _ l: UInt32 = 0) -> EditStamp { Fixtures.stamp(a, ms, l) }
    static func form() -> RecordState { Fixtures.newForm("form-v1", by: li) }
    static func at(_ m: Double) -> Date { Fixtures.at(m) }

    static func all() throws -> [VectorScenario] {
        try [
            singleCreate(), sequentialOverwrite(), dominatedWrite(), concurrentScalarByTime(), concurrentScalarTieByReplica(),
            duplicatedDelta(), reorderedDeltas(), gapFilledLater(), fullStateWithDelta(), removeBeforeWriteArrives(),
            concurrentSameValue(), defectBeatsOk(), defectBeatsOkAndNA(), okBeatsNA(), overwriteResolvesConflict(),
            concurrentItemNotes(), concurrentEditsOfOneNote(), formAndItemNotes(), photoAddWinsOverRemove(), photoRemoveObserved(),
            samePhotoTwoDevices(), photosOnTwoItems(), concurrentSubmissions(), reopenBeatsClose(), reviewAfterSubmit(),
            lateEditFlagged(), lateEditClearedByReview(), lateNote(), editsAfterReopen(), noticeStatusMonotone(),
            noticeByTwoDevices(), photoRecordTwoDevices(), photoAttachmentAddWins(), workOrderStartComplete(),
            workOrderConcurrentStart(), complaintEscalates(), complaintConcurrentRoundResult(), callbackOrderedByTime(),
            callbackUnsatisfiedWinsTie(), callbackUnreachable(), callbackLaterSatisfied(), callbackCreatedTwice(),
            sameDotDifferentValues(), threeReplicaMix(),
            // Issue 13: what a round submitted stays visible beside a late value.
            lateEditKeepsSubmitted(), lateRemovalFlagged(), concurrentSubmissionsUniteSeen(),
            // Issue 13: complaint rounds derived from fixes and callbacks; callbacks closed as unreachable.
            complaintConcurrentFixes(), complaintApprovalRacedByUnsatisfied(), complaintApproved(), complaintLegacyRounds(),
            callbackClosedUnreachable(), callbackVerdictOutranksClosing(),
            // Issue 13: a rectification notice's evidence is an add-wins set, followed up after submission.
            noticeEvidenceAddWins(),
            // Issue 13: rain days.
            rainDayTwoDevices(),
            // Issue 13: residents' visits from several devices.
            residentVisitsFromTwoDevices(),
        ]
    }

    static func rainDayTwoDevices() throws -> VectorScenario {
        let id = try RainDay.recordID(zone: Fixtures.zone, day: EstateCalendar.Day("2026-11-23"))
        var a = RecordState(id: id, type: .rainDay, zone: Fixtures.zone)
        var b = a
        let d1 = try RainDay.report(&a, note: "午后大雨", at: at(600), stamp: s(li, 2_000))
        let d2 = try RainDay.report(&b, note: nil, at: at(610), stamp: s(wang, 2_100))
        // Li withdraws her report, not having seen Wang's: his stands, the day stays rainy.
        let d3 = try RainDay.withdraw(&a, replicas: [li.replica], stamp: s(li, 3_000))
        return VectorScenario(
            name: "rain-day-two-devices", description: "Two devices record rain on the same day in one zone: one record (its id derives from zone and day), both reports kept; a withdrawal removes only the report its writer saw.",
            covers: ["notes-keep-all", "concurrent", "join"], inputs: [d2, d1, d3],
            checks: [("/day", "2026-11-23"), ("/rain", true), ("/reports/0/by", "王管家")])
    }

    // MARK: causality

    static func singleCreate() throws -> VectorScenario {
        VectorScenario(
            name: "single-create", description: "One device creates a building-patrol form; the state is the create delta.",
            covers: ["join"], inputs: [form()],
            checks: [("/status", "draft"), ("/round", 1), ("/template", "building-patrol"), ("/conflicts", [])])
    }

    static func sequentialOverwrite() throws -> VectorScenario {
        var a = form()
        let d1 = try InspectionForm.setField(&a, "weather", to: "晴", stamp: s(li, 2_000))
        let d2 = try InspectionForm.setField(&a, "weather", to: "阴", stamp: s(li, 3_000))
        return VectorScenario(
            name: "sequential-overwrite", description: "One device writes a field twice; the second write supersedes the first.",
            covers: ["join", "lww-hlc"], inputs: [form(), d1, d2], checks: [("/weather", "阴"), ("/conflicts", [])])
    }

    static func dominatedWrite() throws -> VectorScenario {
        var a = form()
        let d1 = try InspectionForm.setField(&a, "place", to: "3号楼 楼梯间", stamp: s(li, 2_000))
        var b = a
        // Wang has seen Li's value and overwrites it with an *earlier* clock: causality, not time, decides.
        let d2 = try InspectionForm.setField(&b, "place", to: "3号楼2单元 楼梯间", stamp: s(wang, 1_500))
        return VectorScenario(
            name: "dominated-write", description: "A write that saw an earlier value supersedes it whatever the clocks say.",
            covers: ["join", "dominated"], inputs: [form(), d1, d2], checks: [("/place", "3号楼2单元 楼梯间"), ("/conflicts", [])])
    }

    static func concurrentScalarByTime() throws -> VectorScenario {
        var a = form(), b = form()
        let d1 = try InspectionForm.setField(&a, "weather", to: "晴", stamp: s(li, 5_000, 1))
        let d2 = try InspectionForm.setField(&b, "weather", to: "雨", stamp: s(wang, 5_000, 0))
        return VectorScenario(
            name: "concurrent-scalar-by-hlc", description: "Concurrent writes of a plain field: the later hybrid logical time wins; the conflict is listed.",
            covers: ["lww-hlc", "concurrent"], inputs: [form(), d1, d2],
            checks: [("/weather", "晴"), ("/conflicts/0/rule", "lww-hlc"), ("/conflicts/0/field", "weather")])
    }

    static func concurrentScalarTieByReplica() throws -> VectorScenario {
        var a = form(), b = form()
        let d1 = try InspectionForm.setField(&a, "weather", to: "晴", stamp: s(li, 5_000))
        let d2 = try InspectionForm.setField(&b, "weather", to: "雨", stamp: s(wang, 5_000))
        return VectorScenario(
            name: "concurrent-scalar-tie-by-replica", description: "Equal hybrid times: the larger replica id (by UTF-8 bytes) wins.",
            covers: ["lww-hlc", "concurrent"], inputs: [form(), d1, d2], checks: [("/weather", "雨"), ("/conflicts/0/chosen/0", "雨")])
    }

    static func duplicatedDelta() throws -> VectorScenario {
        var a = form()
        let d = try InspectionForm.setResult(&a, item: "tiles", result: .defect, at: at(1), stamp: s(li, 2_000))
        return VectorScenario(
            name: "duplicated-delta", description: "The same delta delivered three times changes nothing after the first.",
            covers: ["idempotence", "duplicated"], inputs: [form(), d, d, d], checks: [("/items/tiles/result", "defect")])
    }

    static func reorderedDeltas() throws -> VectorScenario {
        var a = form()
        let d1 = try InspectionForm.setResult(&a, item: "tiles", result: .ok, at: at(1), stamp: s(li, 2_000))
        let d2 = try InspectionForm.setResult(&a, item: "tiles", result: .defect, at: at(2), stamp: s(li, 3_000))
        return VectorScenario(
            name: "reordered-deltas", description: "A later delta from one device arrives before the earlier one it supersedes; the earlier one must not come back.",
            covers: ["reordered", "context-gaps"], inputs: [d2, form(), d1], checks: [("/items/tiles/result", "defect"), ("/conflicts", [])])
    }

    static func gapFilledLater() throws -> VectorScenario {
        var a = form()
        let d1 = try InspectionForm.setResult(&a, item: "tiles", result: .ok, at: at(1), stamp: s(li, 2_000))
        let d2 = try InspectionForm.setResult(&a, item: "fire-door", result: .defect, at: at(2), stamp: s(li, 3_000))
        let d3 = try InspectionForm.setResult(&a, item: "hygiene", result: .ok, at: at(3), stamp: s(li, 4_000))
        return VectorScenario(
            name: "gap-filled-later", description: "Deltas with dots 7, 8, 6 arrive out of order: the context holds the gap, then compacts.",
            covers: ["reordered", "context-gaps"], inputs: [d3, d2, form(), d1],
            checks: [("/items/tiles/result", "ok"), ("/items/fire-door/result", "defect"), ("/items/hygiene/result", "ok")])
    }

    static func fullStateWithDelta() throws -> VectorScenario {
        var a = form()
        let d1 = try InspectionForm.setResult(&a, item: "alarms", result: .ok, at: at(1), stamp: s(li, 2_000))
        var b = a
        let d2 = try InspectionForm.setResult(&b, item: "alarms", result: .defect, at: at(2), stamp: s(wang, 3_000))
        return VectorScenario(
            name: "full-state-and-deltas", description: "A full state and deltas it already contains merge with the same join.",
            covers: ["join", "state-vs-delta"], inputs: [b, d1, d2, a], checks: [("/items/alarms/result", "defect"), ("/conflicts", [])])
    }

    static func removeBeforeWriteArrives() throws -> VectorScenario {
        var a = form()
        let attach = try InspectionForm.attachPhoto(&a, item: "tiles", sha256: photoA, stamp: s(li, 2_000))
        let detach = try InspectionForm.detachPhoto(&a, item: "tiles", sha256: photoA, stamp: s(li, 3_000))
        return VectorScenario(
            name: "remove-before-add-arrives", description: "A removal (a delta with context and no values) arrives before the attach it removes; the attach stays removed.",
            covers: ["remove", "reordered"], inputs: [form(), detach, attach], checks: [("/items", [:])])
    }

    static func concurrentSameValue() throws -> VectorScenario {
        var a = form(), b = form()
        let d1 = try InspectionForm.setResult(&a, item: "fire-door", result: .ok, at: at(1), stamp: s(li, 2_000))
        let d2 = try InspectionForm.setResult(&b, item: "fire-door", result: .ok, at: at(1), stamp: s(wang, 2_100))
        return VectorScenario(
            name: "concurrent-same-value", description: "Two devices set the same result concurrently: two values kept, no conflict reported.",
            covers: ["concurrent", "defect-wins"], inputs: [form(), d1, d2], checks: [("/items/fire-door/result", "ok"), ("/conflicts", [])])
    }

    // MARK: checklist results

    static func defectBeatsOk() throws -> VectorScenario {
        var a = form(), b = form()
        let d1 = try InspectionForm.setResult(&a, item: "stairwell-lights", result: .defect, note: "3F 走廊灯不亮", at: at(10), stamp: s(li, 2_000))
        let d2 = try InspectionForm.setResult(&b, item: "stairwell-lights", result: .ok, note: "灯都亮", at: at(15), stamp: s(wang, 9_000))
        return VectorScenario(
            name: "defect-beats-ok", description: "Two butlers, one stairwell: Li reports a defect, Wang (later by every clock) says ok. The defect stands; both notes are kept.",
            covers: ["defect-wins", "notes-keep-all", "concurrent"], inputs: [form(), d2, d1],
            checks: [
                ("/items/stairwell-lights/result", "defect"), ("/conflicts/0/rule", "defect-wins"),
                ("/items/stairwell-lights/notes/0/author", "李管家"), ("/items/stairwell-lights/notes/1/author", "王管家"),
            ])
    }

    static func defectBeatsOkAndNA() throws -> VectorScenario {
        var a = form(), b = form(), c = form()
        let d1 = try InspectionForm.setResult(&a, item: "rain-pipes", result: .na, at: at(1), stamp: s(li, 9_000))
        let d2 = try InspectionForm.setResult(&b, item: "rain-pipes", result: .defect, at: at(1), stamp: s(wang, 2_000))
        let d3 = try InspectionForm.setResult(&c, item: "rain-pipes", result: .ok, at: at(1), stamp: s(zhou, 5_000))
        return VectorScenario(
            name: "defect-beats-ok-and-na", description: "Three concurrent results: defect > ok > na.",
            covers: ["defect-wins"], inputs: [form(), d1, d2, d3], checks: [("/items/rain-pipes/result", "defect"), ("/conflicts/0/values/2/value", "na")])
    }

    static func okBeatsNA() throws -> VectorScenario {
        var a = form(), b = form()
        let d1 = try InspectionForm.setResult(&a, item: "elevator-running", result: .na, at: at(1), stamp: s(li, 9_000))
        let d2 = try InspectionForm.setResult(&b, item: "elevator-running", result: .ok, at: at(1), stamp: s(wang, 2_000))
        return VectorScenario(
            name: "ok-beats-na", description: "Concurrent ok and not-applicable: ok stands.",
            covers: ["defect-wins"], inputs: [form(), d1, d2], checks: [("/items/elevator-running/result", "ok")])
    }

    static func overwriteResolvesConflict() throws -> VectorScenario {
        var a = form(), b = form()
        let d1 = try InspectionForm.setResult(&a, item: "tiles", result: .defect, at: at(1), stamp: s(li, 2_000))
        let d2 = try InspectionForm.setResult(&b, item: "tiles", result: .ok, at: at(1), stamp: s(wang, 2_000))
        try a.merge(d2)
        let d3 = try InspectionForm.setResult(&a, item: "tiles", result: .ok, at: at(30), stamp: s(li, 4_000))
        return VectorScenario(
            name: "overwrite-resolves-conflict", description: "Li sees the defect/ok conflict and writes ok over both: the conflict is gone.",
            covers: ["defect-wins", "dominated"], inputs: [form(), d1, d2, d3], checks: [("/items/tiles/result", "ok"), ("/conflicts", [])])
    }

    // MARK: notes

    static func concurrentItemNotes() throws -> VectorScenario {
        var a = form(), b = form()
        let d1 = try InspectionForm.addNote(&a, item: "fire-door", text: "防火门未关闭", at: at(1), stamp: s(li, 2_000))
        let d2 = try InspectionForm.addNote(&b, item: "fire-door", text: "门已关好", at: at(2), stamp: s(wang, 2_000))
        return VectorScenario(
            name: "concurrent-item-notes", description: "Concurrent notes on one item are all kept, each with its author.",
            covers: ["notes-keep-all"], inputs: [form(), d2, d1],
            checks: [("/items/fire-door/notes/0/text", "防火门未关闭"), ("/items/fire-door/notes/1/text", "门已关好"), ("/conflicts", [])])
    }

    static func concurrentEditsOfOneNote() throws -> VectorScenario {
        var a = form()
        try InspectionForm.addNote(&a, item: "tiles", text: "地砖松动", at: at(1), stamp: s(li, 2_000))
        let base = a
        var b = a
        let path = try require(a.fields.keys.first { $0.rawValue.hasPrefix("items/tiles/notes/") })
        let e1 = a.write(path, ["text": "地砖松动 2 块", "at": .string(Timestamp.format(at(5)))], stamp: s(li, 3_000))
        let e2 = b.write(path, ["text": "地砖松动，已围挡", "at": .string(Timestamp.format(at(6)))], stamp: s(wang, 3_000))
        return VectorScenario(
            name: "concurrent-edits-of-one-note", description: "Two devices edit the same note: both texts are shown, attributed, and listed as a notes-keep-all conflict.",
            covers: ["notes-keep-all", "concurrent"], inputs: [base, e1, e2],
            checks: [("/items/tiles/notes/0/author", "李管家"), ("/items/tiles/notes/1/author", "王管家"), ("/conflicts/0/rule", "notes-keep-all")])
    }

    static func formAndItemNotes() throws -> VectorScenario {
        var a = form(), b = form()
        let d1 = try InspectionForm.addNote(&a, text: "今日巡查 3 号楼", at: at(1), stamp: s(li, 2_000))
        let d2 = try InspectionForm.addNote(&b, item: "hygiene", text: "楼道有杂物", at: at(2), stamp: s(wang, 2_000))
        return VectorScenario(
            name: "form-and-item-notes", description: "A form-level note and an item note from two devices both land where they belong.",
            covers: ["notes-keep-all"], inputs: [form(), d1, d2], checks: [("/notes/0/text", "今日巡查 3 号楼"), ("/items/hygiene/notes/0/text", "楼道有杂物")])
    }

    // MARK: photos on items

    static func photoAddWinsOverRemove() throws -> VectorScenario {
        var a = form()
        let attach = try InspectionForm.attachPhoto(&a, item: "stairwell-lights", sha256: photoA, stamp: s(li, 2_000))
        var b = a
        let detach = try InspectionForm.detachPhoto(&a, item: "stairwell-lights", sha256: photoA, stamp: s(li, 3_000))
        // Through the API, as a handheld does it: a re-attach of a photo already shown mints a new dot.
        let reattach = try InspectionForm.attachPhoto(&b, item: "stairwell-lights", sha256: photoA, stamp: s(wang, 2_500))
        return VectorScenario(
            name: "photo-add-wins-over-remove", description: "Li detaches a photo while Wang attaches it again: the add wins, evidence is not dropped.",
            covers: ["add-wins", "remove"], inputs: [form(), attach, detach, reattach], checks: [("/items/stairwell-lights/photos/0", .string(photoA))])
    }

    static func photoRemoveObserved() throws -> VectorScenario {
        var a = form()
        let attach = try InspectionForm.attachPhoto(&a, item: "tiles", sha256: photoA, stamp: s(li, 2_000))
        var b = a
        try b.merge(attach)
        let detach = try InspectionForm.detachPhoto(&b, item: "tiles", sha256: photoA, stamp: s(wang, 3_000))
        return VectorScenario(
            name: "photo-remove-observed", description: "A detach that saw the only attach removes the photo.",
            covers: ["add-wins", "remove"], inputs: [form(), attach, detach], checks: [("/items", [:])])
    }

    static func samePhotoTwoDevices() throws -> VectorScenario {
        var a = form(), b = form()
        let d1 = try InspectionForm.attachPhoto(&a, item: "water-meter", sha256: photoA, stamp: s(li, 2_000))
        let d2 = try InspectionForm.attachPhoto(&b, item: "water-meter", sha256: photoA, stamp: s(wang, 2_000))
        return VectorScenario(
            name: "same-photo-two-devices", description: "The same picture attached on two devices is listed once; no conflict.",
            covers: ["add-wins"], inputs: [form(), d1, d2], checks: [("/items/water-meter/photos", [.string(photoA)]), ("/conflicts", [])])
    }

    static func photosOnTwoItems() throws -> VectorScenario {
        var a = form(), b = form()
        let d1 = try InspectionForm.attachPhoto(&a, item: "fire-extinguisher", sha256: photoA, stamp: s(li, 2_000))
        let d2 = try InspectionForm.attachPhoto(&b, item: "fire-extinguisher", sha256: photoB, stamp: s(wang, 2_000))
        let sorted = [photoA, photoB].sorted()
        return VectorScenario(
            name: "photos-from-two-devices", description: "Different photos attached to one item on two devices are all kept, sorted by hash.",
            covers: ["add-wins"], inputs: [form(), d1, d2], checks: [("/items/fire-extinguisher/photos", .array(sorted.map { .string($0) }))])
    }

    // MARK: status

    static func concurrentSubmissions() throws -> VectorScenario {
        var a = form()
        try InspectionForm.setResult(&a, item: "tiles", result: .ok, at: at(1), stamp: s(li, 2_000))
        var b = a
        let d1 = try InspectionForm.submit(&a, stamp: s(li, 3_000))
        let d2 = try InspectionForm.submit(&b, stamp: s(wang, 3_100))
        return VectorScenario(
            name: "concurrent-submissions", description: "Two devices submit the same round: submitted, no conflict (they differ only in what they had seen).",
            covers: ["status-monotone"], inputs: [a, d1, d2], checks: [("/status", "submitted"), ("/round", 1), ("/conflicts", [])])
    }

    static func reopenBeatsClose() throws -> VectorScenario {
        var a = form()
        try InspectionForm.submit(&a, stamp: s(li, 2_000))
        try InspectionForm.review(&a, at: at(20), stamp: s(zhou, 3_000))
        var b = a
        let close = try InspectionForm.close(&a, stamp: s(zhou, 5_000))
        let reopen = try InspectionForm.reopen(&b, stamp: s(li, 4_000))
        return VectorScenario(
            name: "reopen-beats-close", description: "A close and an explicit reopen race: the reopen starts round 2, above all of round 1.",
            covers: ["status-monotone"], inputs: [b, close, reopen],
            checks: [("/status", "draft"), ("/round", 2), ("/conflicts/0/rule", "status-monotone")])
    }

    static func reviewAfterSubmit() throws -> VectorScenario {
        var a = form()
        let submit = try InspectionForm.submit(&a, stamp: s(li, 2_000))
        var b = a
        let review = try InspectionForm.review(&b, note: "整改项已派单", at: at(30), stamp: s(zhou, 3_000))
        return VectorScenario(
            name: "review-after-submit", description: "The supervisor reviews with a note; delivered before the submission, the result is the same.",
            covers: ["status-monotone", "reordered"], inputs: [review, form(), submit],
            checks: [("/status", "reviewed"), ("/reviewNotes/0/author", "周主管"), ("/conflicts", [])])
    }

    static func lateEditFlagged() throws -> VectorScenario {
        var a = form(), b = form()
        let submit = try InspectionForm.submit(&a, stamp: s(li, 2_000))
        let late = try InspectionForm.setResult(&b, item: "walls-ceiling", result: .defect, at: at(5), stamp: s(wang, 2_500))
        return VectorScenario(
            name: "late-edit-flagged", description: "Wang, offline, records a defect while Li submits: kept, and flagged late-edit for review.",
            covers: ["late-edit"], inputs: [form(), submit, late],
            checks: [("/items/walls-ceiling/result", "defect"), ("/conflicts/0/rule", "late-edit"), ("/conflicts/0/field", "items/walls-ceiling/result")])
    }

    static func lateEditKeepsSubmitted() throws -> VectorScenario {
        var a = form()
        let defect = try InspectionForm.setResult(&a, item: "fire-door", result: .defect, at: at(1), stamp: s(li, 1_500))
        var b = a  // Wang has synced and seen Li's defect
        let submit = try InspectionForm.submit(&a, stamp: s(li, 2_000))
        let late = try InspectionForm.setResult(&b, item: "fire-door", result: .ok, at: at(5), stamp: s(wang, 2_500))
        return VectorScenario(
            name: "late-edit-keeps-submitted",
            description: "Li submits a fire-door defect; Wang, who had seen it but not the submission, marks it ok: the late ok is flagged and the submitted defect stays visible beside it.",
            covers: ["late-edit"], inputs: [form(), defect, submit, late],
            checks: [
                ("/items/fire-door/result", "ok"), ("/conflicts/0/rule", "late-edit"), ("/conflicts/0/field", "items/fire-door/result"),
                ("/conflicts/0/chosen/0", "ok"), ("/conflicts/0/submitted/0", "defect"),
            ])
    }

    static func lateRemovalFlagged() throws -> VectorScenario {
        var b = form()
        let attach = try InspectionForm.attachPhoto(&b, item: "tiles", sha256: photoA, stamp: s(wang, 1_500))
        var a = try form().merged(with: attach)
        let submit = try InspectionForm.submit(&a, stamp: s(li, 2_000))
        let detach = try InspectionForm.detachPhoto(&b, item: "tiles", sha256: photoA, stamp: s(wang, 2_500))
        return VectorScenario(
            name: "late-removal-flagged",
            description: "Wang detaches his photo without having seen Li's submission that showed it: the removal is flagged late, with what was submitted.",
            covers: ["late-edit", "remove"], inputs: [form(), attach, submit, detach],
            checks: [
                ("/items", [:]), ("/conflicts/0/rule", "late-edit"), ("/conflicts/0/field", .string("items/tiles/photos/\(photoA)")),
                ("/conflicts/0/values", []), ("/conflicts/0/submitted/0", true),
            ])
    }

    static func concurrentSubmissionsUniteSeen() throws -> VectorScenario {
        var a = form()
        var b = form()
        let wangResult = try InspectionForm.setResult(&b, item: "hygiene", result: .ok, at: at(1), stamp: s(wang, 1_600))
        let wangSubmit = try InspectionForm.submit(&b, stamp: s(wang, 2_100))
        // Li submits later by the clock without having seen Wang's result: it is not late, Wang's
        // own submission had seen it.
        let liSubmit = try InspectionForm.submit(&a, stamp: s(li, 2_200))
        return VectorScenario(
            name: "concurrent-submissions-unite-seen",
            description: "Two devices submit the same round concurrently: an edit one of them had seen is not late, whichever status wins by clock.",
            covers: ["late-edit", "status-monotone", "union-of-snapshots"], inputs: [form(), wangResult, wangSubmit, liSubmit],
            checks: [("/status", "submitted"), ("/items/hygiene/result", "ok"), ("/conflicts", [])])
    }

    static func lateEditClearedByReview() throws -> VectorScenario {
        var a = form(), b = form()
        let submit = try InspectionForm.submit(&a, stamp: s(li, 2_000))
        let late = try InspectionForm.setResult(&b, item: "walls-ceiling", result: .defect, at: at(5), stamp: s(wang, 2_500))
        var c = try a.merged(with: late)
        let review = try InspectionForm.review(&c, at: at(60), stamp: s(zhou, 4_000))
        return VectorScenario(
            name: "late-edit-cleared-by-review", description: "The supervisor's review saw the late edit: no longer flagged.",
            covers: ["late-edit", "status-monotone"], inputs: [form(), submit, late, review],
            checks: [("/status", "reviewed"), ("/items/walls-ceiling/result", "defect"), ("/conflicts", [])])
    }

    static func lateNote() throws -> VectorScenario {
        var a = form(), b = form()
        let submit = try InspectionForm.submit(&a, stamp: s(li, 2_000))
        let note = try InspectionForm.addNote(&b, item: "fire-hydrant", text: "消防栓标识脱落", at: at(5), stamp: s(wang, 2_500))
        return VectorScenario(
            name: "late-note", description: "A note written concurrently with submission is kept and flagged late-edit.",
            covers: ["late-edit", "notes-keep-all"], inputs: [form(), note, submit],
            checks: [("/items/fire-hydrant/notes/0/text", "消防栓标识脱落"), ("/conflicts/0/rule", "late-edit")])
    }

    static func editsAfterReopen() throws -> VectorScenario {
        var a = form()
        let submit = try InspectionForm.submit(&a, stamp: s(li, 2_000))
        let reopen = try InspectionForm.reopen(&a, stamp: s(li, 3_000))
        let edit = try InspectionForm.setResult(&a, item: "tiles", result: .defect, at: at(9), stamp: s(li, 4_000))
        return VectorScenario(
            name: "edits-after-reopen", description: "Edits made after a reopen are ordinary edits of round 2, not late edits.",
            covers: ["status-monotone", "late-edit"], inputs: [form(), submit, reopen, edit],
            checks: [("/status", "draft"), ("/round", 2), ("/items/tiles/result", "defect"), ("/conflicts", [])])
    }

    // MARK: rectification notices

    static func noticeStatusMonotone() throws -> VectorScenario {
        var a = form()
        // A notice is raised from a defect (001 §4.3.1.1).
        try InspectionForm.setResult(&a, item: "hygiene", result: .defect, at: at(1), stamp: s(li, 1_900))
        let notice = try InspectionForm.addNotice(
            &a, item: "hygiene", party: .cleaning, description: "楼道垃圾未清", deadline: at(24 * 60), at: at(2), stamp: s(li, 2_000))
        var b = a
        let d1 = try InspectionForm.setNoticeStatus(&a, notice: notice.id, to: .verified, stamp: s(li, 3_000))
        let d2 = try InspectionForm.setNoticeStatus(&b, notice: notice.id, to: .rectified, stamp: s(wang, 4_000))
        return VectorScenario(
            name: "notice-status-monotone", description: "Concurrent rectified and verified on a notice: verified stands (statuses only move forward).",
            covers: ["status-monotone"], inputs: [a, d1, d2], checks: [("/notices/0/status", "verified"), ("/notices/0/party", "cleaning")])
    }

    static func noticeByTwoDevices() throws -> VectorScenario {
        var a = form(), b = form()
        let defect1 = try InspectionForm.setResult(&a, item: "hygiene", result: .defect, at: at(1), stamp: s(li, 1_900))
        let defect2 = try InspectionForm.setResult(&b, item: "roof-railings", result: .defect, at: at(1), stamp: s(wang, 1_900))
        let n1 = try InspectionForm.addNotice(&a, item: "hygiene", party: .cleaning, description: "清理杂物", deadline: at(1440), at: at(1), stamp: s(li, 2_000))
        let n2 = try InspectionForm.addNotice(&b, item: "roof-railings", party: .engineering, description: "护栏松动", deadline: at(2880), at: at(1), stamp: s(wang, 2_000))
        return VectorScenario(
            name: "notices-from-two-devices", description: "Two devices raise different rectification notices from their defects: both exist.",
            covers: ["join"], inputs: [form(), defect1, n1.delta, defect2, n2.delta],
            checks: [("/notices/0/party", "cleaning"), ("/notices/1/party", "engineering")])
    }

    static func noticeEvidenceAddWins() throws -> VectorScenario {
        var a = form()
        try InspectionForm.setResult(&a, item: "hygiene", result: .defect, at: at(1), stamp: s(li, 1_900))
        let notice = try InspectionForm.addNotice(
            &a, item: "hygiene", party: .cleaning, description: "楼道垃圾未清", deadline: at(24 * 60), at: at(2), stamp: s(li, 2_000))
        try InspectionForm.attachNoticePhoto(&a, notice: notice.id, stage: .before, sha256: photoA, stamp: s(li, 2_100))
        try InspectionForm.submit(&a, stamp: s(li, 2_200))
        let base = a
        var b = a
        // Li takes the before photo off while Wang, offline, attaches it again and adds the after photo.
        let detach = try InspectionForm.detachNoticePhoto(&a, notice: notice.id, stage: .before, sha256: photoA, stamp: s(li, 3_000))
        let reattach = try InspectionForm.attachNoticePhoto(&b, notice: notice.id, stage: .before, sha256: photoA, stamp: s(wang, 2_900))
        let after = try InspectionForm.attachNoticePhoto(&b, notice: notice.id, stage: .after, sha256: photoB, stamp: s(wang, 3_100))
        return VectorScenario(
            name: "notice-evidence-add-wins",
            description: "A notice's before photo detached on one device while another attaches it again, after the form was submitted: the photo stays, nothing is a late edit.",
            covers: ["add-wins", "remove", "concurrent"], inputs: [base, detach, reattach, after],
            checks: [
                ("/notices/0/photos/0/sha256", .string(photoA)), ("/notices/0/photos/0/stage", "before"),
                ("/notices/0/photos/1/sha256", .string(photoB)), ("/notices/0/photos/1/stage", "after"), ("/conflicts", []),
            ])
    }

    // MARK: photo records

    static func photoRecordTwoDevices() throws -> VectorScenario {
        let id = try Photo.recordID(sha256: photoA, zone: Fixtures.zone)
        var a = RecordState(id: id, type: .photo, zone: Fixtures.zone), b = a
        let d1 = try Photo.record(&a, sha256: photoA, bytes: 2_400_000, mediaType: "image/jpeg", takenAt: at(3), caption: "漏水点", attachTo: Fixtures.id("form-v1"), item: "rain-pipes", stamp: s(li, 2_000))
        let d2 = try Photo.record(&b, sha256: photoA, bytes: 2_400_000, mediaType: "image/jpeg", takenAt: at(3), caption: "天台雨水管", attachTo: Fixtures.id("wo-v1"), item: nil, stamp: s(wang, 2_500))
        return VectorScenario(
            name: "photo-record-two-devices", description: "The same picture imported on two devices is one record: attachments union, caption by lww-hlc.",
            covers: ["add-wins", "lww-hlc"], inputs: [d1, d2],
            checks: [("/caption", "天台雨水管"), ("/attachments/0/record", "form-v1"), ("/attachments/1/record", "wo-v1")])
    }

    static func photoAttachmentAddWins() throws -> VectorScenario {
        let id = try Photo.recordID(sha256: photoB, zone: Fixtures.zone)
        var a = RecordState(id: id, type: .photo, zone: Fixtures.zone)
        let create = try Photo.record(&a, sha256: photoB, bytes: 900_000, mediaType: "image/jpeg", takenAt: at(3), caption: nil, attachTo: Fixtures.id("form-v1"), item: "tiles", stamp: s(li, 2_000))
        var b = a
        let remove = a.write(try FieldPath("attachments", "form-v1", "tiles"), nil, stamp: s(li, 3_000))
        let readd = b.write(try FieldPath("attachments", "form-v1", "tiles"), true, stamp: s(wang, 2_800))
        return VectorScenario(
            name: "photo-attachment-add-wins", description: "Removing a photo's attachment concurrently with re-adding it: the attachment stays.",
            covers: ["add-wins", "remove"], inputs: [create, remove, readd], checks: [("/attachments/0/item", "tiles")])
    }

    // MARK: work orders

    static func workOrderStartComplete() throws -> VectorScenario {
        var a = try WorkOrder.create(id: Fixtures.id("wo-v1"), zone: Fixtures.zone, place: "5号楼 301", category: .leak, description: "天花渗水", reportedAt: at(0), stamp: s(desk, 1_000))
        let create = a
        var b = a
        let start = try WorkOrder.start(&a, at: at(60), stamp: s(desk, 2_000))
        let complete = try WorkOrder.complete(&b, at: at(240), stamp: s(wang, 3_000))
        return VectorScenario(
            name: "work-order-start-and-complete", description: "The desk records the start while the butler records completion: completed, both times kept.",
            covers: ["lww-hlc", "concurrent"], inputs: [create, complete, start],
            checks: [("/status", "completed"), ("/completedAt", .string(Timestamp.format(at(240))))])
    }

    static func workOrderConcurrentStart() throws -> VectorScenario {
        var a = try WorkOrder.create(id: Fixtures.id("wo-v2"), zone: Fixtures.zone, place: "B1 车库", category: .general, description: nil, reportedAt: at(0), stamp: s(desk, 1_000))
        let create = a
        var b = a
        let s1 = try WorkOrder.start(&a, at: at(30), stamp: s(desk, 2_000))
        let s2 = try WorkOrder.start(&b, at: at(45), stamp: s(li, 2_500))
        return VectorScenario(
            name: "work-order-concurrent-start", description: "Two start times recorded concurrently: lww-hlc picks one and the conflict is listed.",
            covers: ["lww-hlc", "concurrent"], inputs: [create, s1, s2],
            checks: [("/startedAt", .string(Timestamp.format(at(45)))), ("/conflicts/0/field", "startedAt")])
    }

    // MARK: complaints

    static func complaintBase(_ id: String, level: ComplaintLevel = .minor) throws -> RecordState {
        try Complaint.create(id: Fixtures.id(id), zone: Fixtures.zone, place: "7号楼 502", level: level, description: "楼上漏水", reportedAt: at(0), stamp: s(desk, 1_000))
    }

    static func complaintEscalates() throws -> VectorScenario {
        var a = try complaintBase("cp-v1")
        let create = a
        let f1 = try Complaint.recordFix(&a, at: at(600), note: nil, stamp: s(li, 2_000)).delta
        let c1 = try Complaint.logCallback(&a, at: at(700), channel: .phone, reached: true, satisfaction: .unsatisfied, note: "仍在渗水", stamp: s(desk, 3_000)).delta
        let f2 = try Complaint.recordFix(&a, at: at(900), note: "更换止水阀", stamp: s(li, 5_000)).delta
        let c2 = try Complaint.logCallback(&a, at: at(1000), channel: .visit, reached: true, satisfaction: .unsatisfied, note: nil, stamp: s(desk, 6_000)).delta
        return VectorScenario(
            name: "complaint-escalates-after-two-rounds",
            description: "Fixed, called back unsatisfied, fixed again, unsatisfied again: two unresolved rounds derived from the callbacks; the complaint is now major and a third round is open.",
            covers: ["derived", "unresolved-wins"], inputs: [create, f1, c1, f2, c2],
            checks: [
                ("/level", "minor"), ("/effectiveLevel", "major"), ("/escalated", true), ("/unresolvedRounds", 2), ("/rounds/1/openedAt", "2026-11-23T12:40:00.000Z"),
                ("/rounds/2/number", 3), ("/rounds/2/result", .null), ("/status", "open"),
            ])
    }

    static func complaintConcurrentRoundResult() throws -> VectorScenario {
        var a = try complaintBase("cp-v2", level: .important)
        _ = try Complaint.recordFix(&a, at: at(300), note: nil, stamp: s(li, 2_000))
        var b = a
        let r1 = try Complaint.logCallback(&a, at: at(600), channel: .visit, reached: true, satisfaction: .satisfied, note: nil, stamp: s(desk, 9_000)).delta
        let r2 = try Complaint.logCallback(&b, at: at(360), channel: .phone, reached: true, satisfaction: .unsatisfied, note: "电梯仍有异响", stamp: s(li, 3_500)).delta
        return VectorScenario(
            name: "complaint-concurrent-round-result",
            description: "Two callbacks on round 1 that did not see each other disagree, the satisfied one hours later by the clock: unresolved wins, and round 2 opens.",
            covers: ["unresolved-wins", "concurrent"], inputs: [a, r1, r2],
            checks: [("/rounds/0/result", "unresolved"), ("/rounds/1/number", 2), ("/status", "open"), ("/conflicts", [])])
    }

    static func complaintConcurrentFixes() throws -> VectorScenario {
        var a = try complaintBase("cp-v3"), b = a
        let f1 = try Complaint.recordFix(&a, at: at(240), note: "疏通下水", stamp: s(li, 2_000)).delta
        let f2 = try Complaint.recordFix(&b, at: at(200), note: "更换软管", stamp: s(wang, 2_100)).delta
        return VectorScenario(
            name: "complaint-concurrent-fixes",
            description: "Two butlers record a fix of round 1 offline: both fixes are kept, the round was fixed at the earlier one, and there is no conflict.",
            covers: ["append-only", "concurrent"], inputs: [a, f1, f2],
            checks: [("/rounds/0/fixedAt", "2026-11-23T04:20:00.000Z"), ("/fixes/0/note", "更换软管"), ("/fixes/1/note", "疏通下水"), ("/status", "fixed"), ("/conflicts", [])])
    }

    static func complaintApprovalRacedByUnsatisfied() throws -> VectorScenario {
        var a = try complaintBase("cp-v4")
        _ = try Complaint.recordFix(&a, at: at(60), note: nil, stamp: s(li, 2_000))
        _ = try Complaint.logCallback(&a, at: at(120), channel: .phone, reached: true, satisfaction: .satisfied, note: nil, stamp: s(desk, 3_000))
        var b = a
        let approval = try Complaint.approve(&a, at: at(200), note: "同意结案", stamp: s(zhou, 4_000))
        let late = try Complaint.logCallback(&b, at: at(150), channel: .visit, reached: true, satisfaction: .unsatisfied, note: "家属不满意", stamp: s(li, 3_800)).delta
        return VectorScenario(
            name: "complaint-approval-raced-by-unsatisfied",
            description: "The project manager approves round 1 while a butler, offline, logs an unsatisfied visit on it: the round is unresolved, round 2 opens, the stale approval closes nothing.",
            covers: ["unresolved-wins", "concurrent", "derived"], inputs: [a, approval, late],
            checks: [("/status", "open"), ("/closedAt", .null), ("/rounds/0/result", "unresolved"), ("/approval/round", 1), ("/awaitingApproval", false)])
    }

    static func complaintApproved() throws -> VectorScenario {
        var a = try complaintBase("cp-v5")
        let create = a
        let f = try Complaint.recordFix(&a, at: at(60), note: nil, stamp: s(li, 2_000)).delta
        let c = try Complaint.logCallback(&a, at: at(120), channel: .phone, reached: true, satisfaction: .satisfied, note: "住户满意", stamp: s(desk, 3_000)).delta
        let approval = try Complaint.approve(&a, at: at(200), note: nil, stamp: s(zhou, 4_000))
        return VectorScenario(
            name: "complaint-approved",
            description: "Fixed, called back satisfied, approved by the project manager: closed at the approval.",
            covers: ["derived"], inputs: [create, f, c, approval],
            checks: [("/status", "closed"), ("/closedAt", "2026-11-23T04:20:00.000Z"), ("/rounds/0/result", "resolved"), ("/escalated", false)])
    }

    static func complaintLegacyRounds() throws -> VectorScenario {
        // Written before rounds were derived: `rounds/<id>` registers with a typed result.
        var a = try complaintBase("cp-v6")
        var b = a
        let r1 = a.write(try FieldPath("rounds", "front-desk:9"), ["openedAt": .string(Timestamp.format(at(0))), "fixedAt": .string(Timestamp.format(at(60))), "result": "unresolved"], stamp: s(desk, 2_000))
        let r2 = a.write(try FieldPath("rounds", "front-desk:10"), ["openedAt": .string(Timestamp.format(at(100)))], stamp: s(desk, 3_000))
        let resolved = b.write(try FieldPath("rounds", "front-desk:9"), ["openedAt": .string(Timestamp.format(at(0))), "fixedAt": .string(Timestamp.format(at(60))), "result": "resolved"], stamp: s(li, 2_500))
        return VectorScenario(
            name: "complaint-legacy-rounds",
            description: "Rounds typed by hand, as written before they were derived: still read in opening order; a concurrent resolved does not hide unresolved.",
            covers: ["derived", "unresolved-wins"], inputs: [a, r1, r2, resolved],
            checks: [("/rounds/0/result", "unresolved"), ("/rounds/1/id", "front-desk:10"), ("/rounds/1/openedAt", "2026-11-23T02:40:00.000Z"), ("/unresolvedRounds", 1)])
    }

    // MARK: callbacks

    static func callbackBase(_ subject: String) throws -> RecordState {
        try CallbackRecord.create(subject: Fixtures.id(subject), subjectType: .workOrder, zone: Fixtures.zone, stamp: s(desk, 1_000))
    }

    static func callbackOrderedByTime() throws -> VectorScenario {
        var deskState = try callbackBase("wo-v1"), butler = deskState
        let call = try CallbackRecord.logAttempt(&deskState, at: at(120), channel: .phone, reached: true, satisfaction: .satisfied, note: nil, stamp: s(desk, 2_000)).delta
        let visit = try CallbackRecord.logAttempt(&butler, at: at(60), channel: .visit, reached: true, satisfaction: .unsatisfied, note: "还在滴水", stamp: s(li, 9_000)).delta
        return VectorScenario(
            name: "callback-ordered-by-time", description: "A later phone call (satisfied) and an earlier visit (unsatisfied) that syncs last: ordered by when they happened, satisfied.",
            covers: ["callback-by-time"], inputs: [deskState, call, visit],
            checks: [("/outcome", "satisfied"), ("/attempts/0/channel", "visit"), ("/attempts/1/channel", "phone")])
    }

    static func callbackUnsatisfiedWinsTie() throws -> VectorScenario {
        var a = try callbackBase("wo-v2"), b = a
        let d1 = try CallbackRecord.logAttempt(&a, at: at(60), channel: .phone, reached: true, satisfaction: .satisfied, note: nil, stamp: s(desk, 2_000)).delta
        let d2 = try CallbackRecord.logAttempt(&b, at: at(60), channel: .visit, reached: true, satisfaction: .unsatisfied, note: nil, stamp: s(li, 2_000)).delta
        return VectorScenario(
            name: "callback-unsatisfied-wins-tie", description: "Two attempts at the same instant disagree: unsatisfied wins the tie.",
            covers: ["callback-by-time"], inputs: [a, d1, d2], checks: [("/outcome", "unsatisfied")])
    }

    static func callbackUnreachable() throws -> VectorScenario {
        var a = try callbackBase("wo-v3"), b = a
        let d1 = try CallbackRecord.logAttempt(&a, at: at(60), channel: .phone, reached: false, satisfaction: nil, note: "无人接听", stamp: s(desk, 2_000)).delta
        let d2 = try CallbackRecord.logAttempt(&a, at: at(180), channel: .phone, reached: false, satisfaction: nil, note: nil, stamp: s(desk, 3_000)).delta
        let d3 = try CallbackRecord.logAttempt(&b, at: at(120), channel: .visit, reached: false, satisfaction: nil, note: "家中无人", stamp: s(li, 2_500)).delta
        return VectorScenario(
            name: "callback-unreachable", description: "Three failed attempts from two devices: the resident is unreachable (003: may close after 3–5).",
            covers: ["callback-by-time"], inputs: [a, d1, d3, d2], checks: [("/outcome", "unreachable"), ("/attempts/1/channel", "visit")])
    }

    static func callbackLaterSatisfied() throws -> VectorScenario {
        var a = try callbackBase("wo-v4")
        let d1 = try CallbackRecord.logAttempt(&a, at: at(60), channel: .phone, reached: true, satisfaction: .unsatisfied, note: nil, stamp: s(desk, 2_000)).delta
        var b = a
        let d2 = try CallbackRecord.logAttempt(&b, at: at(3000), channel: .visit, reached: true, satisfaction: .satisfied, note: "住户签字", stamp: s(li, 4_000)).delta
        return VectorScenario(
            name: "callback-later-satisfied", description: "Unsatisfied, then after a new fix satisfied: the latest verdict counts.",
            covers: ["callback-by-time"], inputs: [d2, try callbackBase("wo-v4"), d1], checks: [("/outcome", "satisfied"), ("/attempts/1/note", "住户签字")])
    }

    static func callbackCreatedTwice() throws -> VectorScenario {
        let a = try CallbackRecord.create(subject: Fixtures.id("wo-v5"), subjectType: .workOrder, zone: Fixtures.zone, stamp: s(desk, 1_000))
        var b = try CallbackRecord.create(subject: Fixtures.id("wo-v5"), subjectType: .workOrder, zone: Fixtures.zone, stamp: s(li, 1_200))
        let d = try CallbackRecord.logAttempt(&b, at: at(30), channel: .sms, reached: true, satisfaction: .satisfied, note: nil, stamp: s(li, 1_300)).delta
        return VectorScenario(
            name: "callback-opened-on-two-devices", description: "The desk and the butler both open the callback record of one repair: one record (its id derives from the subject).",
            covers: ["join", "concurrent"], inputs: [a, b, d], checks: [("/subject", "wo-v5"), ("/outcome", "satisfied")])
    }

    static func callbackClosedUnreachable() throws -> VectorScenario {
        let base = try callbackBase("wo-v6")
        var a = base
        let attempts = try [60.0, 180, 300].enumerated().map { i, m in
            try CallbackRecord.logAttempt(&a, at: at(m), channel: .phone, reached: false, satisfaction: nil, note: nil, stamp: s(desk, 2_000 + Int64(i) * 100)).delta
        }
        let close = try CallbackRecord.closeUnreachable(&a, at: at(400), note: "三次无人接听", stamp: s(desk, 3_000))
        return VectorScenario(
            name: "callback-closed-unreachable",
            description: "Three attempts that did not reach the resident, then closed as unreachable by a person (003).",
            covers: ["callback-by-time"], inputs: [base] + attempts + [close], checks: [("/outcome", "closed-unreachable"), ("/closed/reason", "unreachable")])
    }

    static func callbackVerdictOutranksClosing() throws -> VectorScenario {
        var a = try callbackBase("wo-v7")
        for (i, m) in [60.0, 180, 300].enumerated() {
            _ = try CallbackRecord.logAttempt(&a, at: at(m), channel: .phone, reached: false, satisfaction: nil, note: nil, stamp: s(desk, 2_000 + Int64(i) * 100))
        }
        var b = a
        let close = try CallbackRecord.closeUnreachable(&a, at: at(400), note: nil, stamp: s(desk, 3_000))
        let reached = try CallbackRecord.logAttempt(&b, at: at(390), channel: .visit, reached: true, satisfaction: .unsatisfied, note: "上门见到住户", stamp: s(li, 3_100)).delta
        return VectorScenario(
            name: "callback-verdict-outranks-closing",
            description: "The desk closes a callback as unreachable while a butler, offline, reaches the resident on a visit: the verdict decides.",
            covers: ["callback-by-time", "concurrent"], inputs: [a, close, reached], checks: [("/outcome", "unsatisfied")])
    }

    static func residentVisitsFromTwoDevices() throws -> VectorScenario {
        let base = try Resident.create(
            id: Fixtures.id("res-v1"), zone: Fixtures.zone, profile: Resident.Profile(household: "5号楼 301", name: "王女士"), note: nil,
            at: at(0), stamp: s(li, 1_000))
        var a = base, b = base
        // Offline at once: Li visits, Wang phones and updates the needs; both visits stay.
        let d1 = try Resident.logVisit(&a, at: at(30), channel: .visit, note: "反映地库照明不足", stamp: s(li, Int64(at(31).timeIntervalSince1970 * 1000))).delta
        let d2 = try Resident.logVisit(&b, at: at(20), channel: .phone, note: nil, stamp: s(wang, Int64(at(40).timeIntervalSince1970 * 1000))).delta
        let d3 = try Resident.update(&b, profile: Resident.Profile(needs: "希望增设快递柜"), note: nil, at: at(41), stamp: s(wang, Int64(at(41).timeIntervalSince1970 * 1000)))
        return VectorScenario(
            name: "resident-visits-from-two-devices",
            description: "Two devices log a visit to one household at once (append-only, keyed by dot): both are kept, ordered by when they happened, and nothing conflicts.",
            covers: ["append-only", "concurrent", "reordered"], inputs: [d2, d1, base, d3],
            checks: [
                ("/visits/0/channel", "phone"), ("/visits/0/author", "王管家"), ("/visits/1/note", "反映地库照明不足"), ("/needs", "希望增设快递柜"),
                ("/conflicts", []),
            ])
    }

    // MARK: edge cases for implementers

    static func sameDotDifferentValues() throws -> VectorScenario {
        var a = form(), b = form()
        // A faulty replica reuses one dot for two values; both sides must still pick the same one.
        let d1 = a.write("weather", "晴", stamp: s(li, 2_000))
        let d2 = b.write("weather", "雨", stamp: s(li, 2_000))
        return VectorScenario(
            name: "same-dot-different-values", description: "A faulty replica writes two values under one dot: every replica keeps the one whose canonical entry encoding is larger.",
            covers: ["join", "hostile"], inputs: [form(), d1, d2], checks: [("/weather", "雨")])
    }

    static func threeReplicaMix() throws -> VectorScenario {
        var a = form(), b = form(), c = form()
        let d1 = try InspectionForm.setResult(&a, item: "escape-roof-door", result: .defect, note: "天台门上锁", at: at(5), stamp: s(li, 2_000))
        let d2 = try InspectionForm.attachPhoto(&b, item: "escape-roof-door", sha256: photoB, stamp: s(wang, 2_100))
        let d3 = try InspectionForm.addReviewNote(&c, text: "立即开锁", at: at(7), stamp: s(zhou, 2_200))
        try a.merge(d2)
        let d4 = try InspectionForm.setResult(&a, item: "escape-roof-door", result: .ok, note: "已开锁", at: at(20), stamp: s(li, 3_000))
        return VectorScenario(
            name: "three-replica-mix", description: "A defect, a photo, a supervisor note and a re-check from three devices, delivered in a scrambled order.",
            covers: ["join", "reordered", "notes-keep-all", "add-wins"], inputs: [d4, d3, form(), d2, d1],
            checks: [
                ("/items/escape-roof-door/result", "ok"), ("/items/escape-roof-door/photos/0", .string(photoB)),
                ("/reviewNotes/0/text", "立即开锁"), ("/items/escape-roof-door/notes/1/text", "已开锁"),
            ])
    }
}

struct VectorError: Error, CustomStringConvertible {
    let description: String
}

func require<T>(_ value: T?, _ message: String = "required value missing") throws -> T {
    guard let value else { throw VectorError(description: message) }
    return value
}
