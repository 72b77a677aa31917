@testable import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// Moving to a fresh replica id (a cloned image, a restored backup): every queued edit re-stamped
/// under the new id, none lost, none duplicated, contexts mapped, refusals of the conflict cleared.
@Suite("Client store: moving to a fresh replica id")
struct ReplicaMoveTests {
    let zone = try! Zone("east-3")

    @Test("queued edits are re-stamped under the fresh id with their values, times and causal links", arguments: StoreKind.allCases)
    func restamp(_ kind: StoreKind) throws {
        let dir = Scratch("store")
        let store = try makeStore(kind, in: dir.url)
        try store.setDeviceInfo(DeviceInfo(name: "li", role: .butler, zones: [zone]))
        let form = try store.createForm(template: "building-patrol", zone: zone, place: "5号楼 地下车库")
        try store.setResult(form: form, item: "fire-door", result: .ok)
        try store.setResult(form: form, item: "fire-door", result: .defect, note: "闭门器损坏")
        let before = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20)
        #expect(before.count == 1 && before[0].seqs.count == 3)
        // The last edit was refused as a reused dot: it is set aside like any final refusal.
        let solo = try store.acknowledge(before, RefusalTests.answer(before, [(.refused, "dot-reused")]))
        #expect(solo.split == 3)
        let singles = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20)
        let outcome = try store.acknowledge(singles, RefusalTests.answer(singles, [(.refused, "dot-reused"), (.refused, "dot-reused"), (.refused, "dot-reused")]))
        #expect(outcome.replicaConflicts == 3)
        #expect(try store.status().refusedEdits == 3)

        let old = try ReplicaID("li-handheld")
        let fresh = try ReplicaID("r0123456789abcdef")
        #expect(try store.needsReplicaMove())
        #expect(try store.moveToReplica(fresh, server: [:]) == 3)
        #expect(try !store.needsReplicaMove())
        #expect(try store.identity().replica == fresh)
        #expect(try store.status().refusedEdits == 0 && store.status().pendingEdits == 3, "the conflict's refusals are cleared: pushed again")

        let after = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20)
        #expect(after.count == 3, "still one entry per edit")
        var replayed = RecordState(id: form, type: .inspectionForm, zone: zone)
        for group in after {
            for register in group.delta.fields.values {
                #expect(register.keys.allSatisfy { $0.replica == fresh }, "every value is minted under the fresh id")
            }
            #expect(!group.delta.context.replicas.contains(old), "no dot of a queued edit keeps the old id")
            try replayed.merge(group.delta)
        }
        // The re-stamped edits say the same thing: the defect superseded the ok, with its note.
        let view = try InspectionForm(replayed)
        #expect(view.items["fire-door"]?.result == .defect)
        #expect(view.items["fire-door"]?.notes.map(\.text) == ["闭门器损坏"])
        #expect(view.conflicts.isEmpty, "the ok is superseded, not concurrent")
        #expect(replayed.context.maxCounter(of: fresh) == UInt64(replayed.context.vector[fresh]), "fresh counters are contiguous")
        // The local state got the same mapping: it equals the join of its queued edits, and an
        // edit made now mints after the re-stamped ones (never a dot a queued edit holds).
        #expect(try store.record(form) == replayed)
        try store.addNote(form: form, item: "fire-door", text: "已通知工程部")
        let all = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20)
        var joined = RecordState(id: form, type: .inspectionForm, zone: zone)
        for group in all { try joined.merge(group.delta) }
        #expect(try InspectionForm(joined).items["fire-door"]?.notes.count == 2, "the new note is not lost to a dot collision")
        #expect(try store.record(form) == joined)
        // Moving again to the same id changes nothing.
        #expect(try store.moveToReplica(fresh, server: [:]) == 0)
    }

    @Test("values the server already holds (delivered by this device's twin) are dropped, not sent twice", arguments: StoreKind.allCases)
    func deliveredDropped(_ kind: StoreKind) throws {
        let dir = Scratch("store")
        let store = try makeStore(kind, in: dir.url)
        try store.setDeviceInfo(DeviceInfo(name: "li", role: .butler, zones: [zone]))
        let form = try store.createForm(template: "building-patrol", zone: zone, place: "5号楼 地下车库")
        let created = try #require(try store.record(form))
        try store.setResult(form: form, item: "fire-door", result: .defect)
        // The twin already delivered the creation: the server holds exactly those values.
        let fresh = try ReplicaID("r2")
        #expect(try store.moveToReplica(fresh, server: [form: created]) == 1)
        let queued = try store.pendingGroups(maxDeltas: 500, maxBytes: 1 << 20)
        #expect(queued.count == 1 && queued[0].seqs.count == 1, "only the defect is still to send")
        #expect(queued[0].delta.fields.keys.map(\.rawValue) == ["items/fire-door/result"])
        #expect(queued[0].delta.fields.values.allSatisfy { $0.keys.allSatisfy { $0.replica == fresh } })
    }

    @Test("a dot the server already accepted stays in the context under the old id")
    func acceptedDotsKept() throws {
        let old = try ReplicaID("li-handheld")
        let fresh = try ReplicaID("r1")
        let accepted = try Dot(old, 1)
        let queued = try Dot(old, 2)
        let context = CausalContext(vector: VersionVector([old: 2]))
        let renamed = ClientStore.renamed(context, replica: old, [queued: try Dot(fresh, 1)])
        #expect(renamed.contains(accepted))
        #expect(!renamed.contains(queued))
        #expect(renamed.contains(try Dot(fresh, 1)))
    }
}
