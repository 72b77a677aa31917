import ButlerModel
import Foundation
import Testing

/// The direct canonical writer (``RecordState/writeCanonical(into:)``, behind
/// ``RecordState/canonicalJSON``) writes exactly the bytes of the generic encoding
/// (`jsonValue.canonicalBytes`), and a pull page read from bytes keeps each change's bytes.
@Suite("Canonical writer: the same bytes as the generic encoding")
struct CanonicalWriterTests {
    @Test("SYNC.md §Encoding: every vector's states, and their merge, encode to the generic canonical bytes", arguments: VectorTests.files())
    func vectors(_ file: URL) throws {
        let vector = try JSONParser.parse([UInt8](try Data(contentsOf: file)))
        let inputs = try (try #require(vector["inputs"]?.arrayValue)).map(RecordState.init(json:))
        var merged = inputs[0]
        for input in inputs.dropFirst() { try merged.merge(input) }
        for state in inputs + [merged] {
            let generic = state.jsonValue.canonicalBytes
            #expect(state.canonicalJSON == generic)
            #expect(state.isCanonicalEncoding(generic[...]))
        }
    }

    @Test("SYNC.md §Encoding: gaps in the context, several replicas and siblings, escapes, negative and extreme integers")
    func awkwardState() throws {
        let (a, b, c) = (try ReplicaID("A"), try ReplicaID("b-2"), try ReplicaID("B"))
        let context = CausalContext(vector: VersionVector([a: 3, b: 1, c: 12]), cloud: [try Dot(a, 7), try Dot(a, 5), try Dot(b, 9)])
        let stamp = HLCTimestamp(millis: 1_795_000_000_000, logical: 4_294_967_295)
        let fields: [FieldPath: [Dot: FieldEntry]] = [
            "place": [
                try Dot(a, 1): FieldEntry(value: "3号楼\n\"大堂\"\\ \u{01}\u{1f}/", time: stamp, author: "李管家"),
                try Dot(c, 12): FieldEntry(value: ["z": -12, "a": [.null, true, false, .int(.min), .int(.max)], "é": "x"], time: stamp, author: "王"),
            ],
            "items/tiles/result": [try Dot(b, 1): FieldEntry(value: 0, time: HLCTimestamp(millis: 0, logical: 0), author: "c")],
            "items/Tiles": [try Dot(a, 7): FieldEntry(value: [], time: stamp, author: "d")],
        ]
        let state = try RecordState(id: RecordID("form-1"), type: .inspectionForm, zone: Zone("east-3"), context: context, fields: fields)
        let generic = state.jsonValue.canonicalBytes
        #expect(state.canonicalJSON == generic, "\(String(decoding: state.canonicalJSON, as: UTF8.self))")
        #expect(state.isCanonicalEncoding(generic[...]))
        #expect(!state.isCanonicalEncoding(Array(" ".utf8 + generic)[...]))
        // An empty context and no fields.
        let empty = RecordState(id: try RecordID("wo-1"), type: .workOrder, zone: try Zone("east-3"))
        #expect(empty.canonicalJSON == empty.jsonValue.canonicalBytes)
    }

    @Test("SYNC.md §Pull: a page read from bytes keeps the bytes each change arrived as; pages compare by their changes alone")
    func receivedSlices() throws {
        let vector = try JSONParser.parse([UInt8](try Data(contentsOf: try #require(VectorTests.files().first))))
        let states = try (try #require(vector["inputs"]?.arrayValue)).map(RecordState.init(json:))
        let page = PullResponse(changes: states, cursor: "9", more: false)
        let parsed = try JSONParser.parsePullResponse(page.jsonValue.canonicalBytes)
        #expect(parsed == page)
        #expect(parsed.received.slices.count == states.count && page.received.slices.isEmpty)
        for (index, state) in states.enumerated() { #expect(Array(try #require(parsed.received[index])) == state.canonicalJSON) }
        #expect(page.received[0] == nil)
    }
}
