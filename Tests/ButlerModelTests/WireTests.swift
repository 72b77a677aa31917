import ButlerTestSupport
import ButlerModel
import Foundation
import Testing

@Suite("Wire: strict JSON, canonical encoding, SHA-256")
struct WireTests {
    @Test("canonical encoding sorts keys by UTF-8 bytes and escapes only what it must")
    func canonical() throws {
        let value: JSONValue = ["b": 1, "a": ["z": true, "é": .null, "Z": -5], "c": "a/b\"\\\n\u{01}中"]
        #expect(value.canonicalString == #"{"a":{"Z":-5,"z":true,"é":null},"b":1,"c":"a/b\"\\\n\u0001中"}"#)
    }

    @Test("parse and canonical encoding round-trip")
    func roundTrip() throws {
        let text = #" { "x" : [1, -2, 9223372036854775807, -9223372036854775808], "y": "\u4e2d\ud83d\ude00\/", "z": {} } "#
        let value = try JSONParser.parse(text)
        #expect(value["y"] == .string("中😀/"))
        #expect(try JSONParser.parse(value.canonicalString) == value)
    }

    @Test("hostile JSON is refused with invalid-json", arguments: [
        "1.5", "1e3", "01", "{\"a\":1,\"a\":2}", "[1,]", "\"\\ud800\"", "\"\\udc00x\"", "9223372036854775808",
        "-9223372036854775809", "{\"a\" 1}", "[1] 2", "\"abc", "\"tab\there\"", "nul", "\u{FEFF}{}",
        String(repeating: "[", count: 70) + String(repeating: "]", count: 70),
    ])
    func refusesHostileJSON(_ text: String) {
        #expect(throws: ModelError.self) { try JSONParser.parse(text) }
        do { _ = try JSONParser.parse(text) } catch let e as ModelError { #expect(e.code == .invalidJSON) } catch { Issue.record(error) }
    }

    @Test("invalid UTF-8 is refused")
    func invalidUTF8() {
        #expect(throws: ModelError.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
    }

    @Test("SHA-256 matches the FIPS 180-4 examples", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func sha256(_ input: String, _ digest: String) {
        #expect(SHA256Hasher.hex(of: Array(input.utf8)) == digest)
    }

    @Test("SHA-256 of a million a's, fed in uneven pieces")
    func sha256Long() {
        var hasher = SHA256Hasher()
        var remaining = 1_000_000
        var piece = 1
        while remaining > 0 {
            let n = min(piece, remaining)
            hasher.update(repeatElement(UInt8(ascii: "a"), count: n))
            remaining -= n
            piece = piece * 3 % 997 + 1
        }
        #expect(SHA256Hasher.hexString(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("timestamps have one canonical form; the lenient parser accepts what people type")
    func timestamps() throws {
        let date = try #require(Timestamp.parse("2026-11-23T08:30:00.250Z"))
        #expect(Timestamp.format(date) == "2026-11-23T08:30:00.250Z")
        #expect(Timestamp.parse("2026-11-23T08:30:00Z") == nil)
        #expect(Timestamp.parse("2026-02-30T08:30:00.000Z") == nil)
        #expect(Timestamp.parseLenient("2026-11-23T16:30:00+08:00") == Timestamp.parse("2026-11-23T08:30:00.000Z"))
        #expect(Timestamp.format(Date(timeIntervalSince1970: -1.5)) == "1969-12-31T23:59:58.500Z")
    }

    @Test("a record state survives its JSON form byte for byte")
    func recordRoundTrip() throws {
        var form = Fixtures.newForm()
        try InspectionForm.setResult(&form, item: "tiles", result: .defect, note: "地砖破损", at: Fixtures.at(5), stamp: Fixtures.stamp(Fixtures.author("A"), 2_000))
        let decoded = try RecordState(json: try JSONParser.parse(form.canonicalJSON))
        #expect(decoded == form)
        #expect(decoded.contentHash == form.contentHash)
    }

    @Test("malformed states are refused", arguments: [
        // A value whose dot the context has not seen.
        #"{"id":"f","type":"inspection-form","zone":"z","context":{},"fields":{"place":[{"dot":["A",1],"time":[1,0],"by":"a","value":"x"}]}}"#,
        // One dot in two fields.
        #"{"id":"f","type":"inspection-form","zone":"z","context":{"vv":{"A":1}},"fields":{"place":[{"dot":["A",1],"time":[1,0],"by":"a","value":"x"}],"weather":[{"dot":["A",1],"time":[1,0],"by":"a","value":"y"}]}}"#,
        // An absurd counter.
        #"{"id":"f","type":"inspection-form","zone":"z","context":{"vv":{"A":9007199254740992}},"fields":{}}"#,
        // Path traversal in an id.
        #"{"id":"..","type":"inspection-form","zone":"z","context":{},"fields":{}}"#,
        // An unknown record type, an unknown member, a bad replica id.
        #"{"id":"f","type":"invoice","zone":"z","context":{},"fields":{}}"#,
        #"{"id":"f","type":"photo","zone":"z","context":{},"fields":{},"extra":1}"#,
        #"{"id":"f","type":"photo","zone":"z","context":{"vv":{"a b":1}},"fields":{}}"#,
        // An empty register and a path with an empty segment.
        #"{"id":"f","type":"photo","zone":"z","context":{},"fields":{"caption":[]}}"#,
        #"{"id":"f","type":"photo","zone":"z","context":{},"fields":{"a//b":[]}}"#,
    ])
    func malformedStates(_ text: String) throws {
        let json = try JSONParser.parse(text)
        #expect(throws: ModelError.self) { try RecordState(json: json) }
    }

    @Test("the schema refuses unknown fields and badly shaped values")
    func schema() throws {
        let a = Fixtures.author("A")
        var form = Fixtures.newForm()
        let good = form.write("items/tiles/result", "ok", stamp: Fixtures.stamp(a, 5))
        try FieldSchema.of(.inspectionForm).validate(good)
        let unknown = form.write("items/tiles/colour", "red", stamp: Fixtures.stamp(a, 6))
        let badValue = form.write("items/tiles/result", "great", stamp: Fixtures.stamp(a, 7))
        let badTime = form.write("createdAt", "yesterday", stamp: Fixtures.stamp(a, 8))
        for delta in [unknown, badValue, badTime] {
            #expect(throws: ModelError.self) { try FieldSchema.of(.inspectionForm).validate(delta) }
        }
    }
}

@Suite("Wire messages")
struct WireMessageTests {
    @Test("a push decodes each delta on its own: one bad delta refuses only itself")
    func pushDecoding() throws {
        let good = Fixtures.newForm().jsonValue
        let bad: JSONValue = ["id": "..", "type": "inspection-form", "zone": "z", "context": [:], "fields": [:]]
        let results = try PushRequest.decode(["protocol": 1, "deltas": [good, bad]])
        #expect(results.count == 2)
        #expect((try? results[0].get()) == Fixtures.newForm())
        if case .failure(let error) = results[1] { #expect(error.code == .invalidValue) } else { Issue.record("the bad delta must fail") }
    }

    @Test("another protocol version is a clear error, not corruption")
    func protocolVersion() {
        do {
            _ = try PushRequest.decode(["protocol": 2, "deltas": []])
            Issue.record("protocol 2 must be refused")
        } catch let error as ModelError {
            #expect(error.code == .protocolVersion)
        } catch { Issue.record(error) }
    }

    @Test("responses round-trip through JSON")
    func roundTrips() throws {
        let push = PushResponse(results: [.init(index: 0, id: "form-1", status: .accepted), .init(index: 1, id: nil, status: .refused, code: "invalid-value", message: "bad")])
        #expect(try PushResponse(json: JSONParser.parse(push.jsonValue.canonicalString)) == push)
        let pull = PullResponse(changes: [Fixtures.newForm()], cursor: "42", more: true)
        #expect(try PullResponse(json: JSONParser.parse(pull.jsonValue.canonicalString)) == pull)
        let error = WireError(code: "zone-forbidden", message: "not your zone")
        #expect(try WireError(json: JSONParser.parse(error.jsonValue.canonicalString)) == error)
    }
}
