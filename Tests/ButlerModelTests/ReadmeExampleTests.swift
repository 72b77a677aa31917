import ButlerModel
import Foundation
import Testing

/// The README's "Using the model from Swift" example, kept compiling and true.
@Test("the README's model example works as written")
func readmeExample() throws {
    let li = try Author(replica: ReplicaID("li-handheld"), name: "李管家")
    var clock = HybridLogicalClock()
    let template = try TemplateCatalog.bundled().template("building-patrol")

    var form = try InspectionForm.create(
        id: RecordID("form-1"), zone: Zone("east-3"), template: template, place: "3号楼2单元 楼梯间",
        at: Date(), stamp: EditStamp(author: li, time: clock.tick(now: Date())))
    let delta = try InspectionForm.setResult(
        &form, item: "stairwell-lights", result: .defect, note: "3F 走廊灯不亮", template: template,
        at: Date(), stamp: EditStamp(author: li, time: clock.tick(now: Date())))
    let view = try InspectionForm(form)
    #expect(view.items["stairwell-lights"]?.result == .defect)
    #expect(view.conflicts.isEmpty)
    let received = try RecordState(json: JSONParser.parse(delta.jsonValue.canonicalBytes))
    #expect(received == delta)
}
