import ButlerModel
@testable import ButlerServer
import ButlerTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// The server's memory of refused edits (``RefusalLog``): the rules on their own, then through the
/// real router on both backends — kept in the push's transaction, counted when sent again, and
/// ended only by what really ends them.
@Suite("Pending refusals")
struct PendingRefusalTests {
    typealias F = ServerFixture
    static let t0: Int64 = 1_795_000_000_000

    static func dot(_ replica: String, _ counter: UInt64) -> Dot { try! Dot(ReplicaID(replica), counter) }

    /// A delta of form-1 writing `weather` under each of `dots` (one field per dot).
    static func delta(_ dots: [(String, UInt64)], record: String = "form-1") throws -> RecordState {
        var context = CausalContext()
        var values: [FieldPath: [Dot: FieldEntry]] = [:]
        for (index, (replica, counter)) in dots.enumerated() {
            let dot = try Dot(ReplicaID(replica), counter)
            context.insert(dot)
            values[try FieldPath("f\(index)"), default: [:]][dot] = FieldEntry(value: "x", time: HLCTimestamp(millis: t0), author: replica)
        }
        return try RecordState(id: RecordID(record), type: .inspectionForm, zone: Deltas.zone, context: context, fields: values)
    }

    static func open(_ id: Int64, _ draft: RefusalDraft) -> RefusalLog.Open {
        RefusalLog.Open(id: id, record: draft.record ?? "", code: draft.code.rawValue, dotsText: RefusalLog.dotsText(draft.dots), removal: draft.removal)
    }

    // MARK: The rules

    @Test("a refusal is kept once and counted when the same edit is refused again, under its newest code; another edit is another refusal")
    func repeats() throws {
        let review = RefusalDraft(delta: try Self.delta([("li-dev", 7)]), code: .roleForbidden, message: "only a supervisor reviews")
        let first = RefusalLog.plan(open: [], refused: [review, review], accepted: [], states: [:], own: [])
        #expect(first.inserts.count == 1 && first.inserts.first?.times == 2)
        let again = RefusalLog.plan(open: [Self.open(1, review)], refused: [review], accepted: [], states: [:], own: [])
        #expect(again.inserts.isEmpty && again.repeats[1]?.times == 1)
        // The same edit refused under another code (held, then final): one refusal, the new code.
        let submitted = RefusalDraft(delta: try Self.delta([("li-dev", 7)]), code: .formSubmitted, message: "the form is submitted")
        let recoded = RefusalLog.plan(open: [Self.open(1, review)], refused: [submitted], accepted: [], states: [:], own: [])
        #expect(recoded.inserts.isEmpty && recoded.repeats[1]?.code == .formSubmitted && recoded.repeats[1]?.message == "the form is submitted")
        let other = RefusalDraft(delta: try Self.delta([("li-dev", 8)]), code: .roleForbidden, message: "")
        #expect(RefusalLog.plan(open: [Self.open(1, review)], refused: [other], accepted: [], states: [:], own: []).inserts.count == 1)
    }

    @Test("delivered: an accepted delta to the record that leaves every dot of the refusal there, all the device's own; a removal once in effect")
    func delivered() throws {
        let held = try Self.delta([("li-dev", 3), ("li-dev", 4)])
        let draft = RefusalDraft(delta: held, code: .clockAhead, message: "")
        let own: Set<ReplicaID> = [try ReplicaID("li-dev")]
        let states = [held.id: held]
        #expect(RefusalLog.plan(open: [Self.open(5, draft)], refused: [], accepted: [held], states: states, own: own).resolved == [5: "delivered"])
        // Not without an accepted delta to that record in this push,
        #expect(RefusalLog.plan(open: [Self.open(5, draft)], refused: [], accepted: [], states: states, own: own).resolved.isEmpty)
        // nor when the record lacks one of the dots,
        let partial = try Self.delta([("li-dev", 3)])
        #expect(RefusalLog.plan(open: [Self.open(5, draft)], refused: [], accepted: [partial], states: [held.id: partial], own: own).resolved.isEmpty)
        // nor when the dots are another device's (a replayed value the server already holds).
        let foreign = RefusalDraft(delta: try Self.delta([("wang-dev", 1)]), code: .foreignDot, message: "")
        let theirs = try Self.delta([("wang-dev", 1)])
        #expect(RefusalLog.plan(open: [Self.open(6, foreign)], refused: [], accepted: [theirs], states: [theirs.id: theirs], own: own).resolved.isEmpty)

        // A removal writes no dot: it is known by the dots it removes, and delivered once no field holds them.
        var record = try Self.delta([("li-dev", 3)])
        let removal = record.write("f0", nil, stamp: Deltas.stamp("li-dev", Self.t0 + 1))
        let removing = RefusalDraft(delta: removal, code: .clockAhead, message: "")
        #expect(removing.removal && removing.dots == [Self.dot("li-dev", 3)])
        let before = try Self.delta([("li-dev", 3)])
        #expect(RefusalLog.plan(open: [Self.open(7, removing)], refused: [], accepted: [removal], states: [before.id: before], own: own).resolved.isEmpty)
        #expect(RefusalLog.plan(open: [Self.open(7, removing)], refused: [], accepted: [removal], states: [record.id: record], own: own).resolved == [7: "delivered"])
    }

    @Test("split: a joined entry's refusal gives way once each of its edits is kept on its own or delivered; at the cap it stays")
    func split() throws {
        let own: Set<ReplicaID> = [try ReplicaID("li-dev")]
        let joinedDelta = try Self.delta([("li-dev", 1), ("li-dev", 2)])
        let joined = RefusalDraft(delta: joinedDelta, code: .roleForbidden, message: "")
        let alone = RefusalDraft(delta: try Self.delta([("li-dev", 2)]), code: .roleForbidden, message: "")
        // Edit 1 delivered, edit 2 refused alone: the joined refusal ends, edit 2's is kept.
        let delivered = try Self.delta([("li-dev", 1)])
        let plan = RefusalLog.plan(open: [Self.open(9, joined)], refused: [alone], accepted: [delivered], states: [delivered.id: delivered], own: own)
        #expect(plan.resolved == [9: "split"] && plan.inserts.map(\.draft) == [alone])
        // Edit 1 not delivered yet (another batch): the joined refusal still accounts for it.
        #expect(RefusalLog.plan(open: [Self.open(9, joined)], refused: [alone], accepted: [], states: [:], own: own).resolved.isEmpty)
        // Both refused alone: ended.
        let first = RefusalDraft(delta: try Self.delta([("li-dev", 1)]), code: .invalidField, message: "")
        #expect(RefusalLog.plan(open: [Self.open(9, joined)], refused: [first, alone], accepted: [], states: [:], own: own).resolved == [9: "split"])
        // One short of the cap: edit 1 is kept, edit 2 is not, so the joined refusal stays and still shows it.
        var full = (1...(RefusalLog.maxPendingPerDevice - 2)).map { n in Self.open(Int64(100 + n), RefusalDraft(delta: try! Self.delta([("li-dev", UInt64(1000 + n))], record: "form-9"), code: .roleForbidden, message: "")) }
        full.append(Self.open(9, joined))
        let capped = RefusalLog.plan(open: full, refused: [first, alone], accepted: [], states: [:], own: own)
        #expect(capped.inserts.count == 1 && capped.unrecorded == 1 && capped.resolved.isEmpty)
        // A refusal of another record, or of no dots, replaces nothing.
        let elsewhere = RefusalDraft(delta: try Self.delta([("li-dev", 2)], record: "form-2"), code: .roleForbidden, message: "")
        #expect(RefusalLog.plan(open: [Self.open(9, joined)], refused: [elsewhere], accepted: [], states: [:], own: own).resolved.isEmpty)
        let garbage = RefusalDraft(delta: nil, code: .invalidJSON, message: "")
        #expect(RefusalLog.plan(open: [Self.open(9, joined)], refused: [garbage], accepted: [], states: [:], own: own).resolved.isEmpty)
    }

    @Test("a device keeps at most maxPendingPerDevice refusals; what does not fit is counted, not kept; messages are printable and bounded")
    func bounded() throws {
        let drafts = try (1...150).map { RefusalDraft(delta: try Self.delta([("wang-dev", UInt64($0))]), code: .foreignDot, message: "") }
        let plan = RefusalLog.plan(open: [], refused: drafts, accepted: [], states: [:], own: [])
        #expect(plan.inserts.count == RefusalLog.maxPendingPerDevice && plan.unrecorded == 50)
        let long = RefusalDraft(delta: nil, code: .invalidJSON, message: String(repeating: "长", count: 10_000))
        #expect(long.message.count == RefusalLog.maxMessageCharacters && long.record == nil && long.dots.isEmpty)
        let nul = RefusalDraft(delta: nil, code: .invalidValue, message: "record id \"a\u{0}b\u{1B}c\"")
        #expect(nul.message == "record id \"a\u{FFFD}b\u{FFFD}c\"")
    }

    @Test("a replica move ends dot-reused, foreign-dot and held refusals; a discard ends those whose dots it names, never a forgery's; a dismissal one id")
    func resolutions() throws {
        let reused = Self.open(1, RefusalDraft(delta: try Self.delta([("li-dev", 2)]), code: .dotReused, message: ""))
        let review = Self.open(2, RefusalDraft(delta: try Self.delta([("li-dev", 3), ("li-dev", 4)]), code: .roleForbidden, message: ""))
        let held = Self.open(3, RefusalDraft(delta: try Self.delta([("li-dev", 5)]), code: .clockAhead, message: ""))
        let jump = Self.open(4, RefusalDraft(delta: try Self.delta([("li-dev", 900)]), code: .counterJump, message: ""))
        let garbage = Self.open(5, RefusalDraft(delta: nil, code: .invalidJSON, message: ""))
        let rows = [reused, review, held, jump, garbage]
        #expect(RefusalLog.ended(rows, by: [.replicaMoved]).map(\.id) == [1, 3])
        let form = try RecordID("form-1")
        let everything = Set((1...1000).map { Self.dot("li-dev", UInt64($0)) })
        #expect(RefusalLog.ended(rows, by: [.discarded(record: form, dots: everything)]).map(\.id) == [2, 3], "never a forgery's, never one without dots")
        #expect(RefusalLog.ended(rows, by: [.discarded(record: form, dots: [Self.dot("li-dev", 3)])]).isEmpty)
        #expect(RefusalLog.ended(rows, by: [.discarded(record: form, dots: [Self.dot("li-dev", 3)]), .discarded(record: form, dots: [Self.dot("li-dev", 4)])]).map(\.id) == [2])
        #expect(RefusalLog.ended(rows, by: [.discarded(record: try RecordID("form-2"), dots: everything)]).isEmpty)
        #expect(RefusalLog.ended(rows, by: [.dismissed(id: 4), .dismissed(id: 5)]).map(\.id) == [4, 5])
    }

    // MARK: Through the router

    func withServer(_ backend: Backend, _ body: @Sendable @escaping (ServerFixture, any TestClientProtocol) async throws -> Void) async throws {
        try await ServerFixture.with(backend) { fixture in
            try await fixture.app().test(.router) { client in try await body(fixture, client) }
        }
    }

    static func pending(_ f: ServerFixture, _ device: String) async throws -> [PendingRefusal] {
        try await f.storage.pendingRefusals().filter { $0.device == device }
    }

    static func discard(_ client: some TestClientProtocol, _ f: ServerFixture, as device: String, _ body: String) async throws -> TestResponse {
        try await client.execute(uri: "/v1/devices/me/discarded", method: .post, headers: f.headers(device), body: ByteBuffer(string: body))
    }

    @Test("a butler's review is kept with its code and dots, counted when sent again, and ended by li's discard report alone", arguments: Backend.available)
    func discardReport(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            var form = Deltas.form()
            let submit = try InspectionForm.submit(&form, stamp: Deltas.stamp("li-dev", Self.t0 + 10))
            #expect(try await f.push(client, as: "li", [Deltas.form(), submit]).map(\.status) == [.accepted, .accepted])
            let review = try InspectionForm.review(&form, note: "误操作", at: F.now, stamp: Deltas.stamp("li-dev", Self.t0 + 20))
            #expect(try await f.push(client, as: "li", [review]).map(\.code) == ["role-forbidden"])
            let kept = try #require(try await Self.pending(f, "li").first)
            #expect(try await Self.pending(f, "li").count == 1)
            #expect(kept.record == "form-1" && kept.zone == "east-3" && kept.code == .roleForbidden && kept.times == 1 && !kept.message.isEmpty)
            #expect(kept.dots == Set(review.fields.values.flatMap(\.keys)).sorted().map(\.description))
            #expect(kept.firstAt == F.now && kept.lastAt == F.now)

            // Sent again (a device that never split it): one refusal, twice.
            #expect(try await f.push(client, as: "li", [review]).map(\.code) == ["role-forbidden"])
            #expect(try await Self.pending(f, "li").map(\.times) == [2])

            // Malformed reports are refused and change nothing.
            for bad in ["", "{}", #"{"discarded":[{"id":"form-1","dots":["nope"]}]}"#, #"{"discarded":[{"id":"bad id","dots":[]}]}"#] {
                let response = try await Self.discard(client, f, as: "li", bad)
                #expect(response.status == .badRequest, "\(bad)")
                #expect(try F.json(response)["code"]?.stringValue?.hasPrefix("invalid-") == true, "\(bad)")
            }
            let report = DiscardedEdits(edits: [.init(record: try RecordID("form-1"), dots: Set(review.fields.values.flatMap(\.keys)))])
            let body = String(decoding: report.jsonValue.canonicalBytes, as: UTF8.self)
            // Another device's report of the same dots ends nothing of li's; nor does an edit li never sent.
            #expect(try F.json(try await Self.discard(client, f, as: "wang", body))["resolved"] == 0)
            #expect(try F.json(try await Self.discard(client, f, as: "li", #"{"discarded":[{"id":"form-1","dots":["li-dev:1"]}]}"#))["resolved"] == 0)
            #expect(try await Self.pending(f, "li").count == 1)
            #expect(try F.json(try await Self.discard(client, f, as: "li", body))["resolved"] == 1)
            #expect(try await Self.pending(f, "li").isEmpty)
            // Without a token: 401, as every device call.
            #expect(try await client.execute(uri: "/v1/devices/me/discarded", method: .post, headers: f.headers(nil), body: ByteBuffer(string: body)).status == .unauthorized)
        }
    }

    @Test("a clock-ahead edit ends when delivered with the same dots; a joined entry gives way to the edit refused alone", arguments: Backend.available)
    func deliveredAndSplit(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            let form = Deltas.form()
            #expect(try await f.push(client, as: "li", [form]).map(\.status) == [.accepted])
            // Stamped 10 days ahead of the server: held.
            let ahead = HybridLogicalClock.millis(F.now) + 10 * 86_400_000
            var copy = form
            let fast = copy.write("weather", "晴", stamp: Deltas.stamp("li-dev", ahead))
            #expect(try await f.push(client, as: "li", [fast]).map(\.code) == ["clock-ahead"])
            #expect(try await Self.pending(f, "li").map(\.code) == [.clockAhead])
            // Re-stamped (same dot, a time now) and delivered.
            let dot = try #require(fast.fields.values.first?.keys.first)
            var fields = fast.fields
            for (path, register) in fields { fields[path] = register.mapValues { FieldEntry(value: $0.value, time: HLCTimestamp(millis: Self.t0 + 5), author: $0.author) } }
            let fixed = try RecordState(id: fast.id, type: fast.type, zone: fast.zone, context: fast.context, fields: fields)
            #expect(fixed.context.contains(dot))
            #expect(try await f.push(client, as: "li", [fixed]).map(\.status) == [.accepted])
            #expect(try await Self.pending(f, "li").isEmpty)

            // A note and a review joined into one entry: refused whole, then the note alone lands
            // and the review alone is refused: one pending refusal, the review's.
            var working = form
            _ = try working.merge(fixed)
            let submit = try InspectionForm.submit(&working, stamp: Deltas.stamp("li-dev", Self.t0 + 30))
            #expect(try await f.push(client, as: "li", [submit]).map(\.status) == [.accepted])
            var mine = working
            let note = mine.write("weather", "多云", stamp: Deltas.stamp("li-dev", Self.t0 + 40))
            let review = try InspectionForm.review(&mine, note: "误操作", at: F.now, stamp: Deltas.stamp("li-dev", Self.t0 + 41))
            var joined = note
            try joined.merge(review)
            #expect(try await f.push(client, as: "li", [joined]).map(\.code) == ["role-forbidden"])
            #expect(try await Self.pending(f, "li").count == 1)
            #expect(try await f.push(client, as: "li", [note, review]).map(\.status) == [.accepted, .refused])
            let left = try await Self.pending(f, "li")
            #expect(left.count == 1 && left.first?.dots == Set(review.fields.values.flatMap(\.keys)).sorted().map(\.description))
        }
    }

    @Test("unreadable deltas are kept without a record; a replica move ends the device's foreign-dot refusals; 100 at most per device", arguments: Backend.available)
    func garbageAndReplicaMove(_ backend: Backend) async throws {
        try await withServer(backend) { f, client in
            let body = ByteBuffer(string: #"{"protocol":1,"deltas":[{"id":"form-9"},{"nonsense":true}]}"#)
            let response = try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("chen"), body: body)
            #expect(response.status == .ok)
            let chen = try await Self.pending(f, "chen")
            // One refusal refused twice: same (no) record, code and dots.
            #expect(chen.count == 1 && chen.first?.times == 2 && chen.first?.record == nil && chen.first?.dots == [], "\(chen)")
            #expect(chen.first?.code.rawValue.hasPrefix("invalid-") == true)
            // A message quoting a NUL the device sent is kept printable (PostgreSQL's text takes no NUL):
            // the push is answered, not failed.
            let nul = ByteBuffer(string: #"{"protocol":1,"deltas":[{"id":"form\u0000x","type":"inspection-form","zone":"west-1","context":{},"fields":{}}]}"#)
            let answered = try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("chen"), body: nul)
            #expect(answered.status == .ok)
            let kept = try await Self.pending(f, "chen")
            #expect(kept.allSatisfy { !$0.message.unicodeScalars.contains { $0.value == 0 } }, "\(kept.map(\.message))")

            // wang replays li's replica id 150 times with fresh counters: foreign-dot, at most 100 kept.
            let form = Deltas.form()
            #expect(try await f.push(client, as: "li", [form]).map(\.status) == [.accepted])
            var chain = form
            var deltas: [RecordState] = []
            for counter in 0..<150 {
                deltas.append(chain.write("weather", .string("晴\(counter)"), stamp: Deltas.stamp("li-dev", Self.t0 + Int64(counter) + 1)))
            }
            let results = try await f.push(client, as: "wang", deltas)
            #expect(results.allSatisfy { $0.status == .refused })
            let wang = try await Self.pending(f, "wang")
            #expect(wang.count == RefusalLog.maxPendingPerDevice)
            #expect(try await Self.pending(f, "li").isEmpty)

            let moved = try await client.execute(uri: "/v1/devices/me/replicas", method: .post, headers: f.headers("wang"), body: ByteBuffer(string: "{}"))
            #expect(moved.status == .created)
            #expect(wang.allSatisfy { $0.code == .foreignDot }, "\(Set(wang.map(\.code)))")
            #expect(try await Self.pending(f, "wang").isEmpty, "the device re-stamps them under its new id")
            #expect(try await Self.pending(f, "chen").count == 1, "another device's refusals stay")
        }
    }
}
