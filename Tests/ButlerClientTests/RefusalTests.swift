@testable import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Synchronization
import Testing

/// A device clock the test sets: wrong first, put right later.
final class SettableClock: WallClock {
    private let instant: Mutex<Date>
    init(_ date: Date) { instant = Mutex(date) }
    func set(_ date: Date) { instant.withLock { $0 = date } }
    func now() -> Date { instant.withLock { $0 } }
}

/// Issue 11, the client's half: refusals are per edit, and not all are final. These tests drive
/// the store's outbox bookkeeping with the answers a server gives (`PushResponse`), one push at a
/// time; the end-to-end suite plays the same against a real `butler-server`.
@Suite("Client store: refused edits")
struct RefusalTests {
    let zone = try! Zone("east-3")

    static func answer(_ groups: [ClientStore.OutboxGroup], _ statuses: [(PushResponse.Result.Status, ErrorCode?)]) -> PushResponse {
        PushResponse(
            results: zip(groups, statuses).enumerated().map { index, pair in
                PushResponse.Result(
                    index: index, id: pair.0.delta.id.rawValue, status: pair.1.0, code: pair.1.1, message: pair.1.1.map { "refused: \($0)" })
            })
    }

    static let supervisor = DeviceInfo(name: "zhou", role: .supervisor, zones: [try! Zone("east-3")])
    static let butler = DeviceInfo(name: "li", role: .butler, zones: [try! Zone("east-3")])

    @Test("a refused joined entry is split: pushed one by one, only the offending edit ends refused", arguments: StoreKind.allCases)
    func split(_ kind: StoreKind) throws {
        let dir = Scratch("store")
        let store = try makeStore(kind, in: dir.url)
        // A stale role (this handheld was a supervisor's) lets the review into the outbox.
        try store.setDeviceInfo(Self.supervisor)
        let form = try store.createForm(template: "building-patrol", zone: zone, place: "3号楼 楼梯间")
        try store.setResult(form: form, item: "fire-door", result: .defect, note: "闭门器损坏")
        try store.submit(form: form)
        try store.review(form: form, note: "误操作")

        let joined = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20)
        #expect(joined.count == 1 && joined[0].seqs.count == 4, "one push entry joins the record's four deltas")
        let first = try store.acknowledge(joined, Self.answer(joined, [(.refused, "role-forbidden")]))
        #expect(first == ClientStore.Acknowledgement(accepted: 0, refused: 0, held: [], split: 4))
        #expect(try store.refusedEdits().isEmpty, "a refused joined entry refuses none of its edits")
        #expect(try store.status().pendingEdits == 4)

        let solos = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20)
        #expect(solos.map(\.seqs) == joined[0].seqs.map { [$0] }, "each delta alone, in outbox order")
        let second = try store.acknowledge(
            solos, Self.answer(solos, [(.accepted, nil), (.accepted, nil), (.accepted, nil), (.refused, "role-forbidden")]))
        #expect(second == ClientStore.Acknowledgement(accepted: 3, refused: 1, held: [], split: 0))
        let refused = try store.refusedEdits()
        #expect(refused == [RefusedEdit(id: joined[0].seqs[3], record: form, code: "role-forbidden", message: "refused: role-forbidden", isFinal: true)])
        let status = try store.status()
        #expect((status.pendingEdits, status.refusedEdits, status.heldEdits) == (0, 1, 0))
        #expect(try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20).isEmpty, "a final refusal is never pushed again")
    }

    @Test("a transient refusal holds the edit: skipped for the rest of this sync, pushed again on the next", arguments: StoreKind.allCases)
    func held(_ kind: StoreKind) throws {
        let dir = Scratch("store")
        let store = try makeStore(kind, in: dir.url)
        let form = try store.createForm(template: "building-patrol", zone: zone, place: "p")
        let other = try store.createForm(template: "building-patrol", zone: zone, place: "q")
        let groups = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20)
        #expect(groups.count == 2)
        let outcome = try store.acknowledge(groups, Self.answer(groups, [(.refused, "zone-forbidden"), (.refused, "invalid-field")]))
        #expect(outcome.held == groups[0].seqs && outcome.refused == 1)
        let status = try store.status()
        #expect((status.pendingEdits, status.refusedEdits, status.heldEdits) == (1, 1, 1), "held is still pending")
        #expect(try store.refusedEdits().map(\.isFinal) == [false, true])
        #expect(try store.refusedEdits().map(\.record) == [form, other])
        #expect(try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20, skipping: Set(outcome.held)).isEmpty, "not again in the same sync")
        // The next sync pushes it again; accepted, it leaves the outbox.
        let again = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20)
        #expect(again.map(\.seqs) == [groups[0].seqs])
        _ = try store.acknowledge(again, Self.answer(again, [(.accepted, nil)]))
        #expect(try store.status().pendingEdits == 0)
        #expect(try store.refusedEdits().map(\.record) == [other])
    }

    @Test("only the listed codes are transient")
    func transientCodes() {
        for code: ErrorCode in ["clock-ahead", "zone-forbidden", "storage-full", "quota-exceeded"] { #expect(RefusedEdit.isTransient(code: code)) }
        for code: ErrorCode in ["role-forbidden", "foreign-dot", "unknown-dots", "record-too-large", "dot-reused", "invalid-field", "refused"] {
            #expect(!RefusedEdit.isTransient(code: code))
        }
    }

    @Test("the engine's completion policy: refused needs a person, held and waiting are transient", arguments: StoreKind.allCases)
    func completion(_ kind: StoreKind) throws {
        let dir = Scratch("store")
        let store = try makeStore(kind, in: dir.url)
        let engine = try SyncEngine.forStore(store)  // completion() reads the store only
        #expect(try engine.completion().isComplete && (try engine.completion().error) == nil)
        _ = try store.createForm(template: "building-patrol", zone: zone, place: "p")
        #expect(try engine.completion().error?.code == .unreachable, "an edit still waiting")
        var groups = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20)
        _ = try store.acknowledge(groups, Self.answer(groups, [(.refused, "clock-ahead")]))
        let held = try #require(try engine.completion().error)
        #expect(held.code == .editsHeld && held.isTransient)
        #expect(held.message.contains("clock-ahead") && held.message.contains("clock"))
        _ = try store.createForm(template: "building-patrol", zone: zone, place: "q")
        groups = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20, skipping: Set(groups[0].seqs))
        _ = try store.acknowledge(groups, Self.answer(groups, [(.refused, "invalid-field")]))
        let refused = try #require(try engine.completion().error)
        #expect(refused.code == .editsRefused && refused.code.rawValue == "edits-refused" && !refused.isTransient)
    }

    @Test("discard drops the edit and marks the record; the rebase is the server's state joined with the remaining deltas", arguments: StoreKind.allCases)
    func discardAndRebase(_ kind: StoreKind) throws {
        let dir = Scratch("store")
        let store = try makeStore(kind, in: dir.url)
        try store.setDeviceInfo(Self.supervisor)
        let form = try store.createForm(template: "building-patrol", zone: zone, place: "3号楼")
        try store.setResult(form: form, item: "fire-door", result: .defect, note: "闭门器损坏")
        // The server accepts those two: its state of the form is their join.
        let accepted = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20)
        _ = try store.acknowledge(accepted, Self.answer(accepted, [(.accepted, nil)]))
        let server = accepted[0].delta
        try store.addNote(form: form, text: "巡查完毕")
        try store.submit(form: form)
        try store.review(form: form, note: "误操作")
        var groups = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20)
        _ = try store.acknowledge(groups, Self.answer(groups, [(.refused, "role-forbidden")]))
        groups = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20)
        #expect(groups.count == 3)
        // Only the review is answered (refused); the note and the submission are still pending.
        _ = try store.acknowledge([groups[2]], Self.answer([groups[2]], [(.refused, "role-forbidden")]))
        let review = try #require(try store.refusedEdits().first)
        #expect(review.id == groups[2].seqs[0])

        #expect(throws: ClientError(.unknownEdit, "no refused edit \(groups[0].seqs[0]) on this device (see `butler refused list`)")) {
            try store.discardRefused(groups[0].seqs[0])
        }
        #expect(try store.discardRefused(review.id) == review)
        #expect(try store.refusedEdits().isEmpty)
        #expect(try store.status().pendingEdits == 2, "the note and the submission stay queued")
        #expect(try store.recordsToRebase() == [form])
        #expect(try store.form(form).status.state == .reviewed, "undone at the next sync, not before")

        try store.rebase(form, onto: server)
        let expected = try server.merged(with: groups[0].delta).merged(with: groups[1].delta)
        #expect(try store.record(form) == expected)
        let view = try store.form(form)
        #expect(view.status.state == .submitted && view.reviewNotes.isEmpty)
        #expect(view.items["fire-door"]?.result == .defect && view.notes.map(\.text) == ["巡查完毕"])
        #expect(try store.recordsToRebase().isEmpty)
        #expect(try store.status().pendingEdits == 2)
    }

    @Test("a discarded creation the server never held, with nothing else queued, leaves no record", arguments: StoreKind.allCases)
    func discardCreation(_ kind: StoreKind) throws {
        let dir = Scratch("store")
        let store = try makeStore(kind, in: dir.url)
        let form = try store.createForm(template: "building-patrol", zone: zone, place: "p")
        let groups = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20)
        _ = try store.acknowledge(groups, Self.answer(groups, [(.refused, "record-too-large")]))
        try store.discardRefused(groups[0].seqs[0])
        #expect(try store.record(form) != nil)
        try store.rebase(form, onto: nil)
        #expect(try store.record(form) == nil)
        #expect(try store.recordsToRebase().isEmpty)
        #expect(try store.status().pendingEdits == 0)
    }

    @Test("review and close need a supervisor's device, and so does reopening a reviewed form; nothing is queued otherwise", arguments: StoreKind.allCases)
    func localRoleCheck(_ kind: StoreKind) throws {
        let dir = Scratch("store")
        let store = try makeStore(kind, in: dir.url)
        let form = try store.createForm(template: "building-patrol", zone: zone, place: "p")
        try store.submit(form: form)
        let before = try store.record(form)
        func expectForbidden(_ contains: String, _ body: () throws -> Void) {
            do {
                try body()
                Issue.record("accepted")
            } catch let error as ClientError {
                #expect(error.code == .roleForbidden && error.code.rawValue == "role-forbidden")
                #expect(error.message.contains(contains), "\(error.message)")
            } catch { Issue.record("\(error)") }
        }
        // Never synced: the role is not known yet.
        expectForbidden("sync") { try store.review(form: form) }
        try store.setDeviceInfo(Self.butler)
        expectForbidden("butler") { try store.review(form: form, note: "x") }
        expectForbidden("butler") { try store.close(form: form) }
        #expect(try store.record(form) == before)
        #expect(try store.status().pendingEdits == 2, "nothing queued")

        try store.setDeviceInfo(Self.supervisor)
        try store.review(form: form, note: "已复核")
        #expect(try store.form(form).status.state == .reviewed)
        try store.setDeviceInfo(Self.butler)
        expectForbidden("reopen a reviewed form") { try store.reopen(form: form) }
        #expect(try store.status().pendingEdits == 3)
        // Reopening a submitted form is a butler's own business.
        let other = try store.createForm(template: "building-patrol", zone: zone, place: "q")
        try store.submit(form: other)
        try store.reopen(form: other)
        #expect(try store.form(other).status.state == .draft)
    }

    @Test("a clock corrected backwards: the next edit restarts the hybrid logical clock from the wall clock", arguments: StoreKind.allCases)
    func clockRestart(_ kind: StoreKind) throws {
        let dir = Scratch("store")
        let truth = Date()
        let clock = SettableClock(truth.addingTimeInterval(30 * 86_400))
        let store = try makeStore(kind, in: dir.url, clock: clock)
        let form = try store.createForm(template: "building-patrol", zone: zone, place: "p")
        clock.set(truth)
        try store.setResult(form: form, item: "tiles", result: .ok)
        let state = try #require(try store.record(form))
        let time = try #require(state.siblings(try FieldPath("items", "tiles", "result")).first?.entry.time)
        #expect(time.millis == HybridLogicalClock.millis(truth), "stamped by the corrected clock, not 30 days ahead")
        // A clock only a little ahead (within the drift) is still followed: monotone as before.
        clock.set(truth.addingTimeInterval(-60))
        try store.setResult(form: form, item: "walls-ceiling", result: .ok)
        let later = try #require(try store.record(form)?.siblings(try FieldPath("items", "walls-ceiling", "result")).first?.entry.time)
        #expect(later > time)
    }

    @Test("held clock-ahead edits are re-stamped once the clock is right: same dots, new times, delta and record alike", arguments: StoreKind.allCases)
    func restamp(_ kind: StoreKind) throws {
        let dir = Scratch("store")
        let truth = Date()
        let clock = SettableClock(truth.addingTimeInterval(30 * 86_400))
        let store = try makeStore(kind, in: dir.url, clock: clock)
        let form = try store.createForm(template: "building-patrol", zone: zone, place: "p")
        try store.setResult(form: form, item: "fire-door", result: .defect, note: "闭门器损坏")
        var groups = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20)
        _ = try store.acknowledge(groups, Self.answer(groups, [(.refused, "clock-ahead")]))
        groups = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20)
        _ = try store.acknowledge(groups, Self.answer(groups, [(.refused, "clock-ahead"), (.refused, "clock-ahead")]))
        #expect(try store.status().heldEdits == 2)
        let before = try #require(try store.record(form))
        #expect(try store.restampClockAhead() == 0, "the clock is still wrong: nothing to re-stamp")

        clock.set(truth)
        #expect(try store.restampClockAhead() == 2)
        #expect(try store.restampClockAhead() == 0, "idempotent")
        let status = try store.status()
        #expect((status.pendingEdits, status.heldEdits) == (2, 0))
        let after = try #require(try store.record(form))
        let limit = HybridLogicalClock.millis(truth) + HybridLogicalClock.maxForwardDrift
        #expect(after.context == before.context, "the same dots")
        #expect(Set(after.fields.values.flatMap(\.keys)) == Set(before.fields.values.flatMap(\.keys)))
        #expect(after.fields.values.flatMap(\.values).allSatisfy { $0.time.millis <= limit })
        let deltas = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20)
        #expect(deltas.count == 2)
        #expect(try deltas[0].delta.merged(with: deltas[1].delta) == after, "the record is exactly its re-stamped deltas")
        #expect(deltas[0].delta.fields.values.flatMap(\.values).allSatisfy { $0.time < deltas[1].delta.fields.values.first!.values.first!.time })
    }

    @Test("migration v2 re-pushes refusals recorded before it one by one")
    func migration() throws {
        let dir = Scratch("store")
        let home = dir.url.appendingPathComponent("home")
        do {
            let store = try makeStore(.disk, in: dir.url)
            _ = try store.createForm(template: "building-patrol", zone: zone, place: "p")
            // What a v1 store held after a refused push: refused_code set, no v2 columns used.
            try store.write { db in
                try db.execute(sql: "UPDATE outbox SET refused_code = 'clock-ahead', refused_message = 'm', refusal = NULL, solo = 0")
                try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v2'")
                try db.execute(sql: "DROP TABLE rebase")
                try db.execute(sql: "ALTER TABLE outbox DROP COLUMN refusal")
                try db.execute(sql: "ALTER TABLE outbox DROP COLUMN solo")
            }
        }
        let store = try ClientStore.open(home: home)
        #expect(try store.status().heldEdits == 1)
        #expect(try store.pendingGroups(maxDeltas: 10, maxBytes: 1 << 20).count == 1)
        #expect(try store.recordsToRebase().isEmpty)
    }
}
