import ButlerModel
@testable import ButlerServer
import ButlerTestSupport
import Foundation
import GRDB
import PostgresNIO
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Everything a buggy, cloned or hostile handheld can send, through the real router on both
/// backends: each forged claim is refused with its code, only that delta, and the stored records,
/// the feed and the audit log are byte-identical before and after.
@Suite("Rogue devices")
struct RogueDeviceTests {
    typealias F = ServerFixture
    static let zone = Deltas.zone
    static let t0: Int64 = 1_795_000_000_000

    /// Everything a refusal must leave untouched.
    struct Snapshot: Equatable {
        let records: [StoredRecord]
        let cursor: Int64
        let audit: [AuditEntry]
    }

    static func snapshot(_ f: ServerFixture) async throws -> Snapshot {
        Snapshot(
            records: try await f.storage.storedRecords(after: nil, limit: 10_000), cursor: try await f.storage.latestCursor(),
            audit: try await f.storage.auditEntries(after: 0, record: nil, limit: 10_000))
    }

    static func push(_ client: some TestClientProtocol, _ f: ServerFixture, _ device: String, _ deltas: [RecordState]) async throws -> [PushResponse.Result] {
        try await f.push(client, as: device, deltas)
    }

    /// Pushes `deltas` expecting every one refused with `code`, and nothing stored to change.
    static func expectRefused(
        _ client: some TestClientProtocol, _ f: ServerFixture, _ device: String, _ deltas: [RecordState], _ code: ErrorCode,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let before = try await snapshot(f)
        let results = try await push(client, f, device, deltas)
        #expect(results.map(\.status) == deltas.map { _ in .refused }, sourceLocation: sourceLocation)
        #expect(results.map(\.code) == deltas.map { _ in code }, "\(results.map { $0.message ?? "" })", sourceLocation: sourceLocation)
        #expect(try await snapshot(f) == before, sourceLocation: sourceLocation)
    }

    static func stored(_ f: ServerFixture, _ id: String) async throws -> RecordState? {
        try await f.storage.records(zones: [zone]).first { $0.id.rawValue == id }
    }

    func withServer(_ backend: Backend, _ body: @Sendable @escaping (ServerFixture, any TestClientProtocol) async throws -> Void) async throws {
        try await ServerFixture.with(backend) { fixture in
            try await fixture.app().test(.router) { client in try await body(fixture, client) }
        }
    }

    /// A delta with exactly the given context and values, as a forger would write it.
    static func forged(_ id: String = "form-1", type: RecordType = .inspectionForm, vv: [String: UInt64] = [:], cloud: [(String, UInt64)] = [], fields: [(String, String, UInt64, JSONValue)] = []) throws -> RecordState {
        var context = CausalContext(vector: VersionVector(Dictionary(uniqueKeysWithValues: try vv.map { (try ReplicaID($0.key), $0.value) })), cloud: Set(try cloud.map { try Dot(ReplicaID($0.0), $0.1) }))
        var values: [FieldPath: [Dot: FieldEntry]] = [:]
        for (path, replica, counter, value) in fields {
            let dot = try Dot(ReplicaID(replica), counter)
            context.insert(dot)
            values[try FieldPath(path), default: [:]][dot] = FieldEntry(value: value, time: HLCTimestamp(millis: t0 + 5000), author: replica)
        }
        return try RecordState(id: RecordID(id), type: type, zone: zone, context: context, fields: values)
    }

    @Test("a device mints only under its own replica id; a batch replayed by another device is refused", arguments: Backend.available)
    func foreignDots(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            let form = Deltas.form()
            #expect(try await Self.push(client, f, "li", [form]).map(\.status) == [.accepted])
            // li-dev is now li's: wang can neither mint under it nor replay li's accepted batch.
            var copy = form
            let impersonation = copy.write("weather", "晴", stamp: Deltas.stamp("li-dev", Self.t0 + 1))
            try await Self.expectRefused(client, f, "wang", [impersonation], "foreign-dot")
            try await Self.expectRefused(client, f, "wang", [form], "foreign-dot")
            // wang's first own edit binds wang-dev; a second replica id is not wang's.
            var wangs = form
            #expect(try await Self.push(client, f, "wang", [wangs.write("weather", "阴", stamp: Deltas.stamp("wang-dev", Self.t0 + 2))]).map(\.status) == [.accepted])
            try await Self.expectRefused(client, f, "wang", [wangs.write("place", "4号楼", stamp: Deltas.stamp("wang-2", Self.t0 + 3))], "foreign-dot")
            let bindings = try await f.storage.replicaBindings()
            #expect(Set(bindings.map { "\($0.device)=\($0.replica)" }) == ["li=li-dev", "wang=wang-dev"])
        }
    }

    @Test("pre-emption: a context claiming another device's dots the server has not received is refused, and the real edits land", arguments: Backend.available)
    func preemption(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            var li = Deltas.form()
            #expect(try await Self.push(client, f, "li", [li]).map(\.status) == [.accepted])
            let held = li.context.maxCounter(of: try ReplicaID("li-dev"))
            // wang claims to have seen li-dev's next three dots, alongside a harmless edit of its own.
            let claim = try Self.forged(cloud: [("li-dev", held + 1), ("li-dev", held + 2), ("li-dev", held + 3)], fields: [("weather", "wang-dev", 1, "雨")])
            try await Self.expectRefused(client, f, "wang", [claim], "unknown-dots")
            let vectorClaim = try Self.forged(vv: ["li-dev": held + 3], fields: [("weather", "wang-dev", 1, "雨")])
            try await Self.expectRefused(client, f, "wang", [vectorClaim], "unknown-dots")
            // li's real defect and note arrive afterwards and are kept.
            let defect = try InspectionForm.setResult(&li, item: "fire-door", result: .defect, note: "3F 防火门未关", at: F.now, stamp: Deltas.stamp("li-dev", Self.t0 + 10))
            #expect(try await Self.push(client, f, "li", [defect]).map(\.status) == [.accepted])
            let form = try InspectionForm(try #require(try await Self.stored(f, "form-1")))
            #expect(form.items["fire-door"]?.result == .defect)
        }
    }

    @Test("erasing by context: a butler cannot remove a review, a review note or a reviewed status", arguments: Backend.available)
    func erasingByContext(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            var state = Deltas.form()
            let submit = try InspectionForm.submit(&state, stamp: Deltas.stamp("li-dev", Self.t0 + 1))
            #expect(try await Self.push(client, f, "li", [Deltas.form(), submit]).map(\.status) == [.accepted, .accepted])
            let review = try InspectionForm.review(&state, note: "消防门需整改", at: F.now, stamp: Deltas.stamp("zhou-dev", Self.t0 + 2))
            #expect(try await Self.push(client, f, "zhou", [review]).map(\.status) == [.accepted])
            let zhou = state.context.maxCounter(of: try ReplicaID("zhou-dev"))
            // The attack as reproduced: the supervisor's dots, no values.
            try await Self.expectRefused(client, f, "li", [try Self.forged(vv: ["zhou-dev": zhou])], "role-forbidden")
            try await Self.expectRefused(client, f, "li", [try Self.forged(vv: ["zhou-dev": 60])], "unknown-dots")
            // Writing a draft status over the review (a butler's "reopen" of a reviewed form).
            var butler = state
            let reopen = butler.write("status", FormStatus(state: .draft, round: 1).jsonValue, stamp: Deltas.stamp("li-dev", Self.t0 + 3))
            try await Self.expectRefused(client, f, "li", [reopen], "role-forbidden")
            // The supervisor may reopen.
            var supervisor = state
            let reopened = try InspectionForm.reopen(&supervisor, stamp: Deltas.stamp("zhou-dev", Self.t0 + 4))
            #expect(try await Self.push(client, f, "zhou", [reopened]).map(\.status) == [.accepted])
        }
    }

    @Test("the resolved status is the supervisor's once reviewed: no concurrent higher round, no round jump; a reopen that raced a review still submits", arguments: Backend.available)
    func statusRules(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            var li = Deltas.form()
            let submit = try InspectionForm.submit(&li, stamp: Deltas.stamp("li-dev", Self.t0 + 1))
            #expect(try await Self.push(client, f, "li", [Deltas.form(), submit]).allSatisfy { $0.status == .accepted })
            var zhou = li
            // Li withdraws the submission (reopen, round 2) while Zhou reviews round 1.
            let reopen = try InspectionForm.reopen(&li, stamp: Deltas.stamp("li-dev", Self.t0 + 2))
            let review = try InspectionForm.review(&zhou, note: "已复核", at: F.now, stamp: Deltas.stamp("zhou-dev", Self.t0 + 3))
            #expect(try await Self.push(client, f, "li", [reopen]).map(\.status) == [.accepted])
            #expect(try await Self.push(client, f, "zhou", [review]).map(\.status) == [.accepted])
            // Li's device pulls both and submits round 2 over them: the outranked review is superseded.
            var pulled = try #require(try await Self.stored(f, "form-1"))
            let resubmit = try InspectionForm.submit(&pulled, stamp: Deltas.stamp("li-dev", Self.t0 + 4))
            #expect(try await Self.push(client, f, "li", [resubmit]).map(\.status) == [.accepted])
            // Zhou reviews round 2. A butler's concurrent "reopen" of a higher round, with an empty
            // context (nothing removed), would outrank the review: refused.
            var reviewed = try #require(try await Self.stored(f, "form-1"))
            #expect(try await Self.push(client, f, "zhou", [try InspectionForm.review(&reviewed, at: F.now, stamp: Deltas.stamp("zhou-dev", Self.t0 + 5))]).map(\.status) == [.accepted])
            let outrank = try Self.forged(fields: [("status", "li-dev", 40, FormStatus(state: .draft, round: 3).jsonValue)])
            try await Self.expectRefused(client, f, "li", [outrank], "role-forbidden")
            // A reopen of a submitted form may not jump rounds (which would exhaust them).
            #expect(try await Self.push(client, f, "zhou", [try InspectionForm.reopen(&reviewed, stamp: Deltas.stamp("zhou-dev", Self.t0 + 6))]).map(\.status) == [.accepted])
            var draft = try #require(try await Self.stored(f, "form-1"))
            let submitted = try InspectionForm.submit(&draft, stamp: Deltas.stamp("li-dev", Self.t0 + 7))
            #expect(try await Self.push(client, f, "li", [submitted]).map(\.status) == [.accepted])
            let jump = draft.write("status", FormStatus(state: .draft, round: 1_000_000).jsonValue, stamp: Deltas.stamp("li-dev", Self.t0 + 8))
            try await Self.expectRefused(client, f, "li", [jump], "role-forbidden")
        }
    }

    @Test("a butler removes another device's value only by writing over it", arguments: Backend.available)
    func erasureNeedsAReplacement(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            var li = Deltas.form()
            let defect = try InspectionForm.setResult(&li, item: "fire-door", result: .defect, note: "闭门器损坏", at: F.now, stamp: Deltas.stamp("li-dev", Self.t0 + 1))
            #expect(try await Self.push(client, f, "li", [Deltas.form(), defect]).allSatisfy { $0.status == .accepted })
            let note = try #require(defect.fields.keys.first { $0.rawValue.contains("/notes/") })
            var wang = li
            try await Self.expectRefused(client, f, "wang", [wang.write(note, nil, stamp: Deltas.stamp("wang-dev", Self.t0 + 2))], "role-forbidden")
            var wang2 = li
            try await Self.expectRefused(client, f, "wang", [wang2.write("items/fire-door/result", nil, stamp: Deltas.stamp("wang-dev", Self.t0 + 3))], "role-forbidden")
            // Writing over it is an edit like any other: the door was fixed.
            var wang3 = li
            let fixed = try InspectionForm.setResult(&wang3, item: "fire-door", result: .ok, at: F.now, stamp: Deltas.stamp("wang-dev", Self.t0 + 4))
            #expect(try await Self.push(client, f, "wang", [fixed]).map(\.status) == [.accepted])
        }
    }

    @Test("a status may not claim to have seen dots the record does not hold", arguments: Backend.available)
    func forgedSeen(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            let form = Deltas.form()
            #expect(try await Self.push(client, f, "li", [form]).map(\.status) == [.accepted])
            let status = FormStatus(state: .submitted, round: 1, seen: VersionVector([try ReplicaID("wang-dev"): 40])).jsonValue
            var forged = try Self.forged(fields: [("status", "li-dev", 50, status)])
            // Supersede the draft status, as a real submit does.
            for dot in form.fields["status"]!.keys { forged = try forged.merged(with: try RecordState(id: form.id, type: .inspectionForm, zone: Self.zone, context: CausalContext(cloud: [dot]), fields: [:])) }
            try await Self.expectRefused(client, f, "li", [forged], "unknown-dots")
        }
    }

    @Test("evidence photos are detached only by their author or a supervisor; callback attempts are append-only", arguments: Backend.available)
    func removalsByEffect(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            var state = Deltas.form()
            let sha = String(repeating: "ab", count: 32)
            let attach = try InspectionForm.attachPhoto(&state, item: "fire-door", sha256: sha, stamp: Deltas.stamp("li-dev", Self.t0 + 1))
            #expect(try await Self.push(client, f, "li", [Deltas.form(), attach]).map(\.status) == [.accepted, .accepted])
            var wang = state
            let detach = try InspectionForm.detachPhoto(&wang, item: "fire-door", sha256: sha, stamp: Deltas.stamp("wang-dev", Self.t0 + 2))
            try await Self.expectRefused(client, f, "wang", [detach], "role-forbidden")
            var zhou = state
            let supervisorDetach = try InspectionForm.detachPhoto(&zhou, item: "fire-door", sha256: sha, stamp: Deltas.stamp("zhou-dev", Self.t0 + 3))
            #expect(try await Self.push(client, f, "zhou", [supervisorDetach]).map(\.status) == [.accepted])

            let order = try RecordID("wo-1")
            var callback = try CallbackRecord.create(subject: order, subjectType: .workOrder, zone: Self.zone, stamp: Deltas.stamp("li-dev", Self.t0 + 4))
            let created = callback
            // Dated when it was recorded (the stamp's time): honest (issue 13).
            let recorded = Date(timeIntervalSince1970: Double(Self.t0 + 5) / 1000)
            let (_, attempt) = try CallbackRecord.logAttempt(
                &callback, at: recorded, channel: .phone, reached: true, satisfaction: .unsatisfied, note: nil, stamp: Deltas.stamp("li-dev", Self.t0 + 5))
            #expect(try await Self.push(client, f, "li", [created, attempt]).map(\.status) == [.accepted, .accepted])
            let path = try #require(attempt.fields.keys.first)
            var erase = callback
            try await Self.expectRefused(client, f, "li", [erase.write(path, nil, stamp: Deltas.stamp("li-dev", Self.t0 + 6))], "role-forbidden")
            // An attempt dated an hour after it was recorded would decide the outcome until then.
            var ahead = callback
            let (_, future) = try CallbackRecord.logAttempt(
                &ahead, at: recorded.addingTimeInterval(3600), channel: .visit, reached: true, satisfaction: .satisfied, note: nil,
                stamp: Deltas.stamp("li-dev", Self.t0 + 7))
            try await Self.expectRefused(client, f, "li", [future], "invalid-value")
        }
    }

    @Test("counters: a jump far beyond the record, or a dot reused with other content, is refused", arguments: Backend.available)
    func counters(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            #expect(try await Self.push(client, f, "li", [Deltas.form()]).map(\.status) == [.accepted])
            try await Self.expectRefused(client, f, "li", [try Self.forged(fields: [("weather", "li-dev", 1 << 40, "晴")])], "counter-jump")
            try await Self.expectRefused(client, f, "li", [try Self.forged(fields: [("weather", "li-dev", Dot.maxCounter, "晴")])], "counter-jump")
            try await Self.expectRefused(client, f, "li", [try Self.forged(cloud: [("li-dev", Dot.maxCounter - 1)])], "counter-jump")
            // A restored backup writes counter 1 again with other content.
            try await Self.expectRefused(client, f, "li", [try Self.forged(fields: [("template", "li-dev", 1, "public-area")])], "dot-reused")
            // The same dot at another path.
            try await Self.expectRefused(client, f, "li", [try Self.forged(fields: [("weather", "li-dev", 1, "building-patrol")])], "dot-reused")
        }
    }

    @Test("a restored backup reusing a dot whose value was since overwritten is caught from the audit log; the honest re-send is not", arguments: Backend.available)
    func reusedSupersededDot(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            var state = Deltas.form()
            let sunny = state.write("weather", "晴", stamp: Deltas.stamp("li-dev", Self.t0 + 1))
            let cloudy = state.write("weather", "阴", stamp: Deltas.stamp("li-dev", Self.t0 + 2))
            #expect(try await Self.push(client, f, "li", [Deltas.form(), sunny, cloudy]).allSatisfy { $0.status == .accepted })
            let dot = try #require(sunny.fields["weather"]?.keys.first)
            // The backup never saw 晴 → 阴: it writes rain under the dot 晴 had.
            try await Self.expectRefused(client, f, "li", [try Self.forged(fields: [("weather", "li-dev", dot.counter, "雨")])], "dot-reused")
            // The reply to the first push was lost: the same deltas again change nothing and are accepted.
            #expect(try await Self.push(client, f, "li", [sunny]).map(\.status) == [.accepted])
        }
    }

    @Test("a device gets a fresh replica id bound to it, and may write under every id it holds", arguments: Backend.available)
    func freshReplica(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            #expect(try await Self.push(client, f, "li", [Deltas.form()]).map(\.status) == [.accepted])
            let response = try await client.execute(uri: "/v1/devices/me/replicas", method: .post, headers: f.headers("li"))
            #expect(response.status == .created)
            let fresh = try #require(try F.json(response)["replica"]?.stringValue)
            var state = Deltas.form()
            let old = state.write("weather", "晴", stamp: Deltas.stamp("li-dev", Self.t0 + 1))
            let new = state.write("place", "4号楼", stamp: Deltas.stamp(fresh, Self.t0 + 2))
            #expect(try await Self.push(client, f, "li", [old, new]).map(\.status) == [.accepted, .accepted])
            try await Self.expectRefused(client, f, "wang", [Deltas.form("form-2", by: fresh)], "foreign-dot")
            #expect(Set(try await f.storage.replicaBindings().filter { $0.device == "li" }.map(\.replica)) == ["li-dev", fresh])
        }
    }

    @Test("ids derived from a photo or a callback subject cannot be squatted under another type", arguments: Backend.available)
    func squattedIDs(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            let sha = String(repeating: "cd", count: 32)
            try await Self.expectRefused(client, f, "li", [Deltas.form("cb:wo-1")], "record-mismatch")
            try await Self.expectRefused(client, f, "li", [Deltas.form("photo:east-3:\(sha)")], "record-mismatch")
            let wrongZone = try Self.forged("photo:west-1:\(sha)", type: .photo, fields: [("sha256", "li-dev", 1, .string(sha))])
            try await Self.expectRefused(client, f, "li", [wrongZone], "record-mismatch")
        }
    }

    @Test("one device cannot wedge a record: a merge past the limits is refused alone, and every page stays readable", arguments: Backend.available)
    func oversizedMerge(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            #expect(try await Self.push(client, f, "li", [Deltas.form()]).map(\.status) == [.accepted])
            // Two deltas of 3,000 cloud dots each: each decodes, their join would hold 6,000.
            let first = try Self.forged(cloud: stride(from: 100, to: 6100, by: 2).map { ("li-dev", UInt64($0)) })
            let second = try Self.forged(cloud: stride(from: 6102, to: 12_102, by: 2).map { ("li-dev", UInt64($0)) })
            #expect(try await Self.push(client, f, "li", [first]).map(\.status) == [.accepted])
            try await Self.expectRefused(client, f, "li", [second], "record-too-large")
            // A push mixing it with an honest edit: only the oversized delta is refused.
            var wang = try #require(try await Self.stored(f, "form-1"))
            let honest = wang.write("weather", "晴", stamp: Deltas.stamp("wang-dev", Self.t0 + 1))
            let mixed = try await Self.push(client, f, "wang", [honest])
            #expect(mixed.map(\.status) == [.accepted])
            let page = try await client.execute(uri: "/v1/pull", method: .get, headers: f.headers("zhou"))
            #expect(page.status == .ok)
            let decoded = try PullResponse(json: F.json(page))
            #expect(decoded.changes.map(\.id.rawValue) == ["form-1"])
            #expect(decoded.skipped.isEmpty)
        }
    }

    @Test("accepted deltas are in a hash-chained audit log; check and verify find any edit of the log", arguments: Backend.available)
    func auditAndCheck(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            var state = Deltas.form()
            let defect = try InspectionForm.setResult(&state, item: "fire-door", result: .defect, at: F.now, stamp: Deltas.stamp("li-dev", Self.t0 + 1))
            let submit = try InspectionForm.submit(&state, stamp: Deltas.stamp("li-dev", Self.t0 + 2))
            #expect(try await Self.push(client, f, "li", [Deltas.form(), defect, submit, defect]).map(\.status) == [.accepted, .accepted, .accepted, .accepted])
            let review = try InspectionForm.review(&state, at: F.now, stamp: Deltas.stamp("zhou-dev", Self.t0 + 3))
            #expect(try await Self.push(client, f, "zhou", [review]).map(\.status) == [.accepted])
            try await Self.expectRefused(client, f, "wang", [review], "foreign-dot")
            // Four changing deltas: the re-sent defect changed nothing and the refusal is not logged.
            let trail = try await StoreCheck.auditTrail(f.storage, record: try RecordID("form-1"))
            #expect(trail.map(\.device) == ["li", "li", "li", "zhou"])
            #expect(trail.map(\.replicas) == [["li-dev"], ["li-dev"], ["li-dev"], ["zhou-dev"]])
            var replayed = RecordState(id: try RecordID("form-1"), type: .inspectionForm, zone: Self.zone)
            for entry in trail { try replayed.merge(try JSONParser.parseRecordState(entry.delta)) }
            #expect(replayed == state)
            let report = try await StoreCheck.verifyAudit(f.storage)
            #expect(report.problem == nil)
            #expect(report.entries == 4)
            #expect(report.head == trail.last?.hash)
            let check = try await StoreCheck.checkRecords(f.storage)
            #expect(check.checked == 1)
            #expect(check.problems.isEmpty)
        }
    }

    @Test("an audit entry's hash covers the canonical JSON of its members")
    func chainedEncoding() throws {
        let members: (Int64, String, String, [String], String, String, String) = (
            42, "2026-11-23T01:02:03.004Z", "li \"handheld\" 李", ["d1", "r2"], "cb:wo-1", String(repeating: "a", count: 64), AuditEntry.genesis)
        let direct = AuditEntry.chained(
            seq: members.0, at: members.1, device: members.2, replicas: members.3, record: members.4, deltaHash: members.5, previous: members.6)
        let canonical = JSONValue.object([
            "seq": .int(members.0), "at": .string(members.1), "device": .string(members.2), "replicas": .array(members.3.map(JSONValue.string)),
            "record": .string(members.4), "deltaHash": .string(members.5), "previous": .string(members.6),
        ]).canonicalBytes
        #expect(direct == canonical)
    }

    /// Runs one SQL statement straight against the store, as someone with the database's password would.
    static func tamper(_ f: ServerFixture, _ sql: String) async throws {
        if let sqlite = f.storage as? SQLiteStorage {
            try await sqlite.pool.write { db in try db.execute(sql: sql) }
        } else if let postgres = f.storage as? PostgresStorage {
            try await postgres.client.query(PostgresQuery(unsafeSQL: sql), logger: postgres.logger)
        }
    }

    @Test("an edited, removed or re-ordered audit entry, or a record changed behind the server's back, is reported", arguments: Backend.available)
    func tampering(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            var state = Deltas.form()
            let edits = try (1...3).map { n in
                try InspectionForm.setResult(&state, item: "fire-door", result: n == 2 ? .defect : .ok, at: F.now, stamp: Deltas.stamp("li-dev", Self.t0 + Int64(n)))
            }
            #expect(try await Self.push(client, f, "li", [Deltas.form()] + edits).allSatisfy { $0.status == .accepted })
            #expect(try await StoreCheck.verifyAudit(f.storage).problem == nil)
            // Who made entry 2 is rewritten.
            try await Self.tamper(f, "UPDATE audit SET device = 'wang' WHERE seq = 2")
            #expect(try await StoreCheck.verifyAudit(f.storage).problem?.message.contains("entry 2") == true)
            try await Self.tamper(f, "UPDATE audit SET device = 'li' WHERE seq = 2")
            #expect(try await StoreCheck.verifyAudit(f.storage).problem == nil)
            // The delta of entry 3 is swapped for another's.
            try await Self.tamper(f, "UPDATE audit SET delta = (SELECT delta FROM audit WHERE seq = 4) WHERE seq = 3")
            #expect(try await StoreCheck.verifyAudit(f.storage).problem?.message.contains("entry 3") == true)
            // The record no longer equals the join of what the log says it received.
            #expect(try await StoreCheck.checkRecords(f.storage).problems.map(\.code) == ["audit-mismatch"])
            // An entry removed from the middle.
            try await Self.tamper(f, "DELETE FROM audit WHERE seq = 3")
            let report = try await StoreCheck.verifyAudit(f.storage)
            #expect(report.problem?.code == "audit-broken")
            #expect(report.entries == 2)
        }
    }

    @Test("check reports a record changed behind the server's back, and passes again when it is put back", arguments: Backend.available)
    func recordChangedOutsideTheServer(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            var state = Deltas.form()
            let defect = try InspectionForm.setResult(&state, item: "fire-door", result: .defect, at: F.now, stamp: Deltas.stamp("li-dev", Self.t0 + 1))
            #expect(try await Self.push(client, f, "li", [Deltas.form(), defect]).allSatisfy { $0.status == .accepted })
            #expect(try await StoreCheck.checkRecords(f.storage).problems.isEmpty)
            // The defect is erased by hand: the stored state no longer matches its audited deltas.
            let erased = String(decoding: Deltas.form().canonicalJSON, as: UTF8.self).replacingOccurrences(of: "'", with: "''")
            try await Self.tamper(f, "UPDATE records SET state = '\(erased)' WHERE id = 'form-1'")
            #expect(try await StoreCheck.checkRecords(f.storage).problems.map(\.code) == ["audit-mismatch"])
            try await Self.tamper(f, #"UPDATE records SET state = '{"id":"form-1","type":"inspection-form"}' WHERE id = 'form-1'"#)
            #expect(try await StoreCheck.checkRecords(f.storage).problems.map(\.code) == ["unreadable"])
            // A row whose state names another record is as damaged as one that does not decode.
            let other = String(decoding: Deltas.form("form-9").canonicalJSON, as: UTF8.self).replacingOccurrences(of: "'", with: "''")
            try await Self.tamper(f, "UPDATE records SET state = '\(other)' WHERE id = 'form-1'")
            #expect(try await StoreCheck.checkRecords(f.storage).problems.map(\.code) == ["column-mismatch"])
            var probe = state
            let misplaced = try await Self.push(client, f, "li", [probe.write("weather", "阴", stamp: Deltas.stamp("li-dev", Self.t0 + 9))])
            #expect(misplaced.map(\.code) == ["stored-record-unreadable"])
            try await Self.tamper(f, #"UPDATE records SET state = '{"id":"form-1","type":"inspection-form"}' WHERE id = 'form-1'"#)
            // A push to the damaged record is refused alone; the server keeps serving.
            var wang = state
            let results = try await Self.push(client, f, "wang", [wang.write("weather", "晴", stamp: Deltas.stamp("wang-dev", Self.t0 + 2)), Deltas.form("form-2", by: "wang-dev")])
            #expect(results.map(\.code) == ["stored-record-unreadable", nil])
            let page = try await client.execute(uri: "/v1/pull", method: .get, headers: f.headers("zhou"))
            #expect(page.status == .ok)
            let decoded = try PullResponse(json: F.json(page))
            #expect(decoded.changes.map(\.id.rawValue) == ["form-2"])
            #expect(decoded.skipped.map(\.id) == ["form-1"])
            let fast = try JSONParser.parsePullResponse(Array(page.body.readableBytesView))
            #expect(fast.changes.map(\.id.rawValue) == ["form-2"])
            #expect(fast.skipped.map(\.id) == ["form-1"])
        }
    }
}

/// Byte bounds: no record grows past what a handheld can take, and no pull page does either.
@Suite("Byte bounds")
struct ByteBoundTests {
    typealias F = ServerFixture

    @Test("a push that would grow a record past the byte cap is refused, and the record is unchanged", arguments: Backend.available)
    func recordCap(_ backend: Backend) async throws {
        try await ServerFixture.with(backend) { f in
            try await f.app().test(.router) { client in
                var state = Deltas.form()
                #expect(try await RogueDeviceTests.push(client, f, "li", [Deltas.form()]).map(\.status) == [.accepted])
                var refused: PushResponse.Result?
                for push in 0..<8 where refused == nil {
                    // About 700 KB of notes per push (under the 1 MiB body limit of the fixture).
                    var delta = RecordState(id: state.id, type: state.type, zone: state.zone)
                    for n in 0..<330 {
                        let stamp = Deltas.stamp("li-dev", RogueDeviceTests.t0 + Int64(push * 1000 + n))
                        try delta.merge(try InspectionForm.addNote(&state, item: "fire-door", text: String(repeating: "x", count: 2000), at: F.now, stamp: stamp))
                    }
                    let before = try await RogueDeviceTests.snapshot(f)
                    let result = try #require(try await RogueDeviceTests.push(client, f, "li", [delta]).first)
                    if result.status == .refused {
                        refused = result
                        #expect(try await RogueDeviceTests.snapshot(f) == before)
                    }
                }
                #expect(refused?.code == "record-too-large")
                let stored = try #require(try await f.storage.storedRecords(after: nil, limit: 10).first)
                #expect(stored.state.count <= RecordLimits.maxStateBytes)
            }
        }
    }

    @Test("a pull page ends at its byte budget and the next page carries on", arguments: Backend.available)
    func pageBudget(_ backend: Backend) async throws {
        try await ServerFixture.with(backend, configure: { $0.maxPullPageBytes = 1 }) { f in
            try await f.app().test(.router) { client in
                let forms = (1...3).map { Deltas.form("form-\($0)") }
                #expect(try await RogueDeviceTests.push(client, f, "li", forms).allSatisfy { $0.status == .accepted })
                var cursor = "0"
                var pages: [[String]] = []
                for _ in 0..<10 {
                    let page = try PullResponse(json: F.json(try await client.execute(uri: "/v1/pull?cursor=\(cursor)", method: .get, headers: f.headers("wang"))))
                    pages.append(page.changes.map(\.id.rawValue))
                    cursor = page.cursor
                    if !page.more { break }
                }
                #expect(pages.flatMap { $0 } == forms.map(\.id.rawValue))
                #expect(pages.filter { !$0.isEmpty }.allSatisfy { $0.count == 1 }, "one state a page at a 1-byte budget")
            }
        }
    }
}
