import ButlerModel
import Foundation
import Testing

@testable import ButlerSimulation

/// The simulation's reference (written from `Protocol/SYNC.md`, sharing no logic with the model's
/// join or resolver) against the conformance vectors: if it disagreed with the spec, the checker
/// would be blind or cry wolf. Every vector's inputs go through the reference's own join; the
/// entries must be the vector's merged state, and the reference's resolution the vector's view.
@Suite("Simulation reference against the conformance vectors")
struct ReferenceTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Protocol/vectors")

    static func vectors() throws -> [(name: String, inputs: [RecordState], state: RecordState, view: JSONValue)] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }.sorted().map { name in
            let vector = try JSONParser.parse([UInt8](try Data(contentsOf: folder.appendingPathComponent(name))))
            let inputs = try (vector["inputs"]?.arrayValue ?? []).map { try RecordState(json: $0) }
            let expected = try #require(vector["expected"])
            return (name, inputs, try RecordState(json: try #require(expected["state"])), try #require(expected["view"]))
        }
    }

    @Test("every vector: the reference's join holds exactly the merged state's entries")
    func join() throws {
        let vectors = try Self.vectors()
        #expect(vectors.count >= 56)
        for vector in vectors {
            var reference = ReferenceStore()
            for input in vector.inputs { reference.accept(input) }
            let entries = reference.records[vector.state.id]?.entries ?? [:]
            #expect(entries == vector.state.fields.filter { !$0.value.isEmpty }, "\(vector.name)")
        }
    }

    @Test("every vector: defect-wins, status-monotone, notes-keep-all, add-wins, callback-by-time and unresolved-wins as the views say")
    func resolution() throws {
        var checked: [String: Int] = [:]
        for vector in try Self.vectors() {
            var reference = ReferenceStore()
            for input in vector.inputs { reference.accept(input) }
            guard let record = reference.records[vector.state.id] else { continue }
            let view = vector.view
            switch vector.state.type {
            case .inspectionForm:
                for (key, item) in view["items"]?.objectValue ?? [:] {
                    let result = record.entries[try FieldPath("items", key, "result")].map { ReferenceStore.itemResult(Array($0.values)) } ?? nil
                    #expect(result == item["result"]?.stringValue, "\(vector.name) \(key)")
                    let photos = item["photos"]?.arrayValue?.compactMap(\.stringValue) ?? []
                    #expect(ReferenceStore.keys(record, under: ["items", key, "photos"]) == Set(photos), "\(vector.name) \(key) photos")
                    let notes = item["notes"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
                    #expect(ReferenceStore.keys(record, under: ["items", key, "notes"]) == Set(notes), "\(vector.name) \(key) notes")
                }
                let notes = view["notes"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
                #expect(ReferenceStore.keys(record, under: ["notes"]) == Set(notes), "\(vector.name) notes")
                if let status = record.entries["status"].flatMap({ ReferenceStore.formStatus(Array($0.values)) }) {
                    #expect(status.state == view["status"]?.stringValue && status.round == view["round"]?.intValue, "\(vector.name) status")
                }
                checked["form", default: 0] += 1
            case .callback:
                #expect(ReferenceStore.callbackOutcome(record) == view["outcome"]?.stringValue, "\(vector.name)")
                checked["callback", default: 0] += 1
            case .complaint:
                let unresolved = view["unresolvedRounds"]?.intValue ?? 0
                let unsatisfied = ReferenceStore.unsatisfiedCallbacks(record)
                #expect((unsatisfied > 0) == (unresolved > 0) || vector.name.contains("legacy"), "\(vector.name)")
                #expect(Int64(unsatisfied) >= unresolved || vector.name.contains("legacy"), "\(vector.name)")
                checked["complaint", default: 0] += 1
            default:
                break
            }
        }
        #expect(checked["form", default: 0] >= 20 && checked["callback", default: 0] >= 7 && checked["complaint", default: 0] >= 3, "\(checked)")
    }
}
