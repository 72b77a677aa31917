import ButlerModel
import Foundation

/// The model's worked conflict, run entirely in memory: two butlers patrol the same stairwell
/// offline, disagree about its lights, and their devices merge in opposite orders.
enum MergeDemo {
    static func run() throws {
        let zone = try Zone("east-3")
        let template = try TemplateCatalog.bundled().template("building-patrol")
        let formID = try RecordID("form-2026-11-23-b3-u2")
        let li = try Author(replica: ReplicaID("li-handheld"), name: "李管家")
        let wang = try Author(replica: ReplicaID("wang-handheld"), name: "王管家")
        let morning = Timestamp.parse("2026-11-23T01:30:00.000Z")!  // 09:30 in the estate
        var liClock = HybridLogicalClock()
        var wangClock = HybridLogicalClock()

        // Li opens the form while in coverage; Wang's device receives it before both go underground.
        var liForm = try InspectionForm.create(
            id: formID, zone: zone, template: template, place: "3号楼2单元 楼梯间", at: morning,
            stamp: EditStamp(author: li, time: liClock.tick(now: morning)))
        var wangForm = liForm
        print("1. 李管家 opens \(formID) (\(template.title)) for 3号楼2单元 楼梯间; 王管家's handheld syncs it.")

        // Offline: each walks the stairwell and records the corridor lights.
        let t1 = morning.addingTimeInterval(600)
        let liDelta = try InspectionForm.setResult(
            &liForm, item: "stairwell-lights", result: .defect, note: "3F 走廊灯不亮", template: template, at: t1,
            stamp: EditStamp(author: li, time: liClock.tick(now: t1)))
        let photo = SHA256Hasher.hex(of: Array("photo of the dark 3F corridor".utf8))
        let liPhoto = try InspectionForm.attachPhoto(
            &liForm, item: "stairwell-lights", sha256: photo, template: template,
            stamp: EditStamp(author: li, time: liClock.tick(now: t1)))
        let t2 = morning.addingTimeInterval(900)
        let wangDelta = try InspectionForm.setResult(
            &wangForm, item: "stairwell-lights", result: .ok, note: "灯都亮", template: template, at: t2,
            stamp: EditStamp(author: wang, time: wangClock.tick(now: t2)))
        print("2. Offline, 李管家 marks stairwell-lights defect (note, photo); 王管家 marks it ok (note).")

        // Back in coverage the deltas cross in opposite orders.
        try liForm.merge(wangDelta)
        try wangForm.merge(liPhoto)
        try wangForm.merge(liDelta)
        try wangForm.merge(liDelta)  // a duplicated delivery changes nothing
        print("3. The devices exchange deltas in opposite orders (one delivered twice).")
        print("   content hash on 李's device: \(liForm.contentHash)")
        print("   content hash on 王's device: \(wangForm.contentHash)")
        guard liForm.contentHash == wangForm.contentHash else {
            throw ModelError(.invalidValue, "the replicas diverged: this is a bug in the merge")
        }

        let view = try InspectionForm(liForm)
        let item = view.items["stairwell-lights"]!
        print("4. Both show stairwell-lights = \(item.result?.rawValue ?? "none"), with \(item.notes.count) notes and \(item.photos.count) photo:")
        for note in item.notes { print("   - \(note.author): \(note.text)") }
        for conflict in view.conflicts {
            print("   conflict on \(conflict.field) [\(conflict.rule.rawValue)]: \(conflict.explanation)")
        }
    }
}
