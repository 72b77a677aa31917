import ButlerModel
import Foundation
import Testing

@Suite("Form templates")
struct TemplateTests {
    @Test("the six templates ship with the model")
    func bundled() throws {
        let catalog = try TemplateCatalog.bundled()
        #expect(Set(catalog.templates.keys) == ["building-patrol", "public-area", "cleaning-greening", "renovation", "vacant-unit", "incident"])
    }

    @Test("building-patrol holds the checklist of 001 §4.3.4–4.3.6")
    func buildingPatrol() throws {
        let template = try TemplateCatalog.bundled().template("building-patrol")
        let keys = Set(template.items.map(\.key))
        let required = [
            "water-meter", "electricity-meter", "stairwell-lights", "doors-windows", "walls-ceiling", "tiles", "fire-hydrant",
            "fire-extinguisher", "fire-door", "evacuation-signs", "evacuation-route", "alarms", "escape-roof-door", "roof-railings",
            "lightning-rod", "rain-pipes", "elevator-running", "elevator-signs", "hygiene",
        ]
        for key in required { #expect(keys.contains(key), "missing \(key)") }
        #expect(template.item("escape-roof-door")?.defectAction?.contains("never be locked") == true)
        #expect(template.item("water-meter")?.label == "水表")
    }

    @Test("an unknown template or item is a typed error")
    func unknown() throws {
        #expect(throws: ModelError.self) { try TemplateCatalog.bundled().template("nope") }
        var form = Fixtures.newForm()
        do {
            try InspectionForm.setResult(&form, item: "jacuzzi", result: .ok, template: Fixtures.template, at: Fixtures.at(1), stamp: Fixtures.stamp(Fixtures.author("A"), 2_000))
            Issue.record("an unknown item must be refused")
        } catch let error as ModelError {
            #expect(error.code == .unknownItem)
        }
    }
}
