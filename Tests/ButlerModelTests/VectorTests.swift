import ButlerModel
import Foundation
import Testing

/// The conformance vectors in `Protocol/vectors/`: the contract every client implementation meets.
///
/// The files are read from the source tree (not a resource bundle) because `Protocol/` is the
/// published spec and must hold the one copy; the tests always run from a checkout.
@Suite("Conformance vectors")
struct VectorTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Protocol/vectors")

    static func files() -> [URL] {
        ((try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.pathExtension == "json" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    /// Resolves a JSON pointer (RFC 6901) in `value`.
    static func lookup(_ pointer: String, in value: JSONValue) -> JSONValue? {
        var current: JSONValue? = value
        for token in pointer.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch current {
            case .object(let o): current = o[key]
            case .array(let a): current = Int(key).flatMap { $0 < a.count ? a[$0] : nil }
            default: return nil
            }
        }
        return current
    }

    /// The vector file for a scenario: its inputs and the expected merged state and view.
    static func vector(for scenario: VectorScenario) throws -> JSONValue {
        var merged = scenario.inputs[0]
        for input in scenario.inputs.dropFirst() { try merged.merge(input) }
        let view = try merged.resolvedView()
        for (pointer, expected) in scenario.checks {
            let actual = lookup(pointer, in: view)
            guard actual == expected else {
                throw VectorError(description: "\(scenario.name): \(pointer) is \(actual?.canonicalString ?? "missing"), the scenario states \(expected.canonicalString)")
            }
        }
        return [
            "name": .string(scenario.name),
            "description": .string(scenario.description),
            "covers": .array(scenario.covers.map { .string($0) }),
            "inputs": .array(scenario.inputs.map(\.jsonValue)),
            "checks": .array(scenario.checks.map { ["pointer": .string($0.0), "equals": $0.1] }),
            "expected": ["state": merged.jsonValue, "contentHash": .string(merged.contentHash), "view": view],
        ]
    }

    /// Pretty, stable JSON for files people read: canonical member order, two-space indentation.
    static func pretty(_ value: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .array(let a) where a.allSatisfy({ if case .array = $0 { return false }; if case .object = $0 { return false }; return true }):
            return "[" + a.map(\.canonicalString).joined(separator: ", ") + "]"
        case .array(let a) where !a.isEmpty:
            return "[\n" + a.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let o) where !o.isEmpty:
            let keys = o.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            return "{\n" + keys.map { inner + JSONValue.string($0).canonicalString + ": " + pretty(o[$0]!, indent: inner) }.joined(separator: ",\n") + "\n\(indent)}"
        default:
            return value.canonicalString
        }
    }

    /// Writes `vectors` (name and JSON, numbered in order) into `directory` when
    /// `BUTLER_WRITE_VECTORS=1`, otherwise checks that the files there are exactly these.
    static func syncFiles(_ vectors: [(name: String, json: JSONValue)], in directory: URL, regenerate filter: String) throws {
        let write = ProcessInfo.processInfo.environment["BUTLER_WRITE_VECTORS"] == "1"
        #expect(Set(vectors.map(\.name)).count == vectors.count, "vector names are unique")
        var expectedFiles = Set<String>()
        for (n, vector) in vectors.enumerated() {
            let name = String(format: "%02d-%@.json", n + 1, vector.name)
            expectedFiles.insert(name)
            let text = pretty(vector.json) + "\n"
            let url = directory.appendingPathComponent(name)
            if write {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                try Data(text.utf8).write(to: url)
            } else {
                #expect((try? String(contentsOf: url, encoding: .utf8)) == text, "\(name) differs from its scenario; regenerate with BUTLER_WRITE_VECTORS=1 swift test --filter \(filter)")
            }
        }
        let present = Set(((try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.pathExtension == "json" }.map(\.lastPathComponent))
        #expect(present == expectedFiles, "\(directory.lastPathComponent) holds exactly one file per scenario")
    }

    @Test("every scenario's stated outcomes hold, and Protocol/vectors is up to date with the scenarios")
    func vectorsUpToDate() throws {
        let scenarios = try VectorScenarios.all()
        #expect(scenarios.count >= 40)
        try Self.syncFiles(try scenarios.map { ($0.name, try Self.vector(for: $0)) }, in: Self.directory, regenerate: "VectorTests")
    }

    @Test("every rule is covered by some vector")
    func coverage() throws {
        let covered = Set(try VectorScenarios.all().flatMap(\.covers))
        for rule in ResolutionRule.allCases where rule != .appendOnly {
            #expect(covered.contains(rule.rawValue), "no vector covers \(rule.rawValue)")
        }
        for edge in ["concurrent", "dominated", "duplicated", "reordered", "remove", "context-gaps", "idempotence"] {
            #expect(covered.contains(edge), "no vector covers \(edge)")
        }
    }

    @Test("each vector's inputs merge to its expected state and view in any order, with duplicates", arguments: files())
    func runVector(_ file: URL) throws {
        let vector = try JSONParser.parse([UInt8](try Data(contentsOf: file)))
        let inputs = try #require(vector["inputs"]?.arrayValue).map(RecordState.init(json:))
        let expected = try #require(vector["expected"])
        let expectedState = try RecordState(json: try #require(expected["state"]))
        let expectedBytes = expectedState.canonicalJSON
        #expect(expectedBytes == (try #require(expected["state"])).canonicalBytes, "the expected state is canonical")
        var rng = SplitMix64(seed: UInt64(file.lastPathComponent.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
        var orders = [inputs, inputs.reversed()]
        for _ in 0..<20 {
            var order = inputs.shuffled(using: &rng)
            order += (0..<Int.random(in: 0...3, using: &rng)).map { _ in rng.pick(inputs) }
            orders.append(order.shuffled(using: &rng))
        }
        for order in orders {
            var state = order[0]
            for input in order.dropFirst() { try state.merge(input) }
            #expect(state.canonicalJSON == expectedBytes, "\(file.lastPathComponent): merged state differs")
            #expect(state.contentHash == expected["contentHash"]?.stringValue)
            #expect(try state.resolvedView() == expected["view"], "\(file.lastPathComponent): view differs")
        }
        // Tree-shaped merges (pairs first) give the same state: associativity on real inputs.
        var pairs: [RecordState] = []
        for i in stride(from: 0, to: inputs.count, by: 2) {
            pairs.append(i + 1 < inputs.count ? try inputs[i].merged(with: inputs[i + 1]) : inputs[i])
        }
        var tree = pairs[0]
        for p in pairs.dropFirst() { try tree.merge(p) }
        #expect(tree.canonicalJSON == expectedBytes)
        for check in try #require(vector["checks"]?.arrayValue) {
            let pointer = try #require(check["pointer"]?.stringValue)
            #expect(Self.lookup(pointer, in: try #require(expected["view"])) == check["equals"], "\(file.lastPathComponent): \(pointer)")
        }
    }
}

@Suite("Direct record decoding")
struct DirectDecodingTests {
    @Test("every vector's states decode the same through the direct decoder and the generic path", arguments: VectorTests.files())
    func sameResult(_ file: URL) throws {
        let vector = try JSONParser.parse([UInt8](try Data(contentsOf: file)))
        let states = (try #require(vector["inputs"]?.arrayValue)) + [try #require(vector["expected"]?["state"])]
        for json in states {
            let bytes = json.canonicalBytes
            #expect(try JSONParser.parseRecordState(bytes) == RecordState(json: json))
        }
        let page = PullResponse(changes: try states.map(RecordState.init(json:)), cursor: "17", more: true)
        #expect(try JSONParser.parsePullResponse(page.jsonValue.canonicalBytes) == page)
    }

    @Test("the direct decoder refuses what the generic path refuses", arguments: [
        #"{"id":"f","type":"inspection-form","zone":"z","context":{},"fields":{"place":[{"dot":["A",1],"time":[1,0],"by":"a","value":"x"}]}}"#,
        #"{"id":"f","type":"inspection-form","zone":"z","context":{},"fields":{},"fields":{}}"#,
        #"{"id":"f","type":"inspection-form","zone":"z","context":{"vv":{"A":9007199254740992}},"fields":{}}"#,
        #"{"id":"..","type":"inspection-form","zone":"z","context":{},"fields":{}}"#,
        #"{"id":"f","type":"invoice","zone":"z","context":{},"fields":{}}"#,
        #"{"id":"f","type":"photo","zone":"z","context":{},"fields":{},"extra":1}"#,
        #"{"id":"f","type":"photo","zone":"z","context":{},"fields":{"caption":[]}}"#,
        #"{"id":"f","type":"photo","zone":"z","context":{},"fields":{"a//b":[]}}"#,
        #"{"id":"f","type":"photo","zone":"z","context":{}}"#,
        #"{"id":"f","type":"photo","zone":"z","context":{},"fields":{"caption":[{"dot":["A",1],"time":[1.5,0],"by":"a","value":"x"}]}}"#,
        #"{"id":"f","type":"photo","zone":"z","context":{"vv":{"A":1}},"fields":{"caption":[{"dot":["A",1],"time":[1,0],"value":"x"}]}} "#,
    ])
    func refusals(_ text: String) {
        #expect(throws: ModelError.self) { try JSONParser.parseRecordState(Array(text.utf8)) }
    }
}
