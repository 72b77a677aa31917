import ButlerClient
import ButlerModel
import Foundation

/// What one replica holds at the end of a run, read from its durable store: the checker's view of
/// a device, whether it lived in the simulation or in a real `butler` process's home folder.
public struct ReplicaSnapshot: Sendable {
    public let name: String
    public let zones: [Zone]
    public let records: [RecordState]
    public let pendingEdits: Int
    public let pendingPhotoBytes: Int64
    /// Photos its records show that are not on the device.
    public let missingPhotos: [String]
    /// The edits the server refused and the device set aside: `record: code`.
    public let refused: [String]
    /// Why the device's last sync failed, if it did.
    public let lastSyncError: String?

    public init(name: String, zones: [Zone], store: ClientStore, lastSyncError: String? = nil) throws {
        self.name = name
        self.zones = zones
        records = try store.allRecords()
        let status = try store.status()
        pendingEdits = status.pendingEdits
        pendingPhotoBytes = status.pendingPhotoBytes
        missingPhotos = try store.missingPhotos()
        refused = try store.refusedEdits().map { "\($0.record): \($0.code.rawValue)" }
        self.lastSyncError = lastSyncError
    }
}

/// The checker of a run (issue 14), shared by the simulation and the real-process run: given every
/// delta the server acknowledged, the server's final records and every honest replica's final
/// state, it lists what breaks the promises of `Protocol/SYNC.md`. The semantics it checks against
/// are ``ReferenceStore``'s, not the model's join or resolver: where the model's resolved view is
/// compared, the expected value is computed here from the reference's own entries.
public enum Checker {
    /// Every violation, in a stable order; empty when the run kept every promise.
    ///
    /// - Parameters:
    ///   - accepted: every delta the server acknowledged (re-sent ones may repeat), in any order.
    ///   - server: the server's final records, in every zone.
    ///   - replicas: the honest devices after healing and a final sync.
    ///   - destroyed: photos whose only copy was destroyed on purpose (a device restored from a
    ///     backup older than the photo, after its record went out and before its bytes did): no
    ///     system can bring those back, so a replica missing them is not a violation.
    public static func violations(
        accepted: [RecordState], server: [RecordState], replicas: [ReplicaSnapshot], destroyed: Set<String> = []
    ) -> [String] {
        var violations: [String] = []
        let byID = Dictionary(server.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

        // 1. No acknowledged edit lost: the reference join of what the server acknowledged holds
        //    exactly what the server holds.
        var reference = ReferenceStore()
        for delta in accepted { reference.accept(delta) }
        for (id, record) in reference.records.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            guard let stored = byID[id] else {
                violations.append("acknowledged record \(id) is missing on the server")
                continue
            }
            let held = stored.fields.filter { !$0.value.isEmpty }
            if held != record.entries {
                let lost = record.entries.keys.filter { held[$0] != record.entries[$0] }.map(\.rawValue).sorted()
                violations.append("record \(id): the server's entries differ from the reference join of what it acknowledged (\(lost.prefix(5).joined(separator: ", ")))")
            }
        }
        for id in byID.keys.sorted(by: { $0.rawValue < $1.rawValue }) where reference.records[id] == nil {
            violations.append("record \(id) is on the server but no accepted delta wrote it")
        }

        // 2. What readers are shown: the model's views against the reference's own rules.
        for (id, record) in reference.records.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            guard let stored = byID[id] else { continue }
            violations += resolution(record, stored)
        }

        // 3. Every honest replica holds exactly what the server holds in its zones, and nothing
        //    is left behind.
        for replica in replicas {
            let mine = server.filter { replica.zones.contains($0.zone) }
            let localHashes = Dictionary(replica.records.map { ($0.id, $0.contentHash) }, uniquingKeysWith: { a, _ in a })
            for record in mine where localHashes[record.id] != record.contentHash {
                violations.append("\(replica.name): record \(record.id) differs from the server's after the final sync")
            }
            if replica.records.count != mine.count {
                violations.append("\(replica.name): holds \(replica.records.count) records, the server \(mine.count) in its zones")
            }
            if replica.pendingEdits > 0 { violations.append("\(replica.name): \(replica.pendingEdits) edit(s) still pending after the final sync") }
            // Evidence is never lost: every photo uploaded, every photo its records show on the device.
            if replica.pendingPhotoBytes > 0 { violations.append("\(replica.name): \(replica.pendingPhotoBytes) photo bytes never uploaded") }
            let missing = replica.missingPhotos.filter { !destroyed.contains($0) }
            if !missing.isEmpty { violations.append("\(replica.name): \(missing.count) photo(s) its records show are not on the device") }
            if let error = replica.lastSyncError { violations.append("\(replica.name): its last sync failed: \(error)") }
            for refused in replica.refused { violations.append("\(replica.name): the server refused an honest edit of \(refused)") }
        }
        return violations
    }

    /// The model's resolved view of one record against the reference's rules on the same entries.
    static func resolution(_ record: ReferenceStore.Record, _ stored: RecordState) -> [String] {
        var violations: [String] = []
        let id = stored.id
        switch stored.type {
        case .inspectionForm:
            guard let form = try? InspectionForm(stored) else { return ["form \(id) cannot be read"] }
            for (path, entries) in record.entries {
                let s = path.segments.map(String.init)
                if s.count == 3, s[0] == "items", s[2] == "result" {
                    let expected = ReferenceStore.itemResult(Array(entries.values))
                    let shown = form.items[s[1]]?.result?.rawValue
                    if expected != shown { violations.append("form \(id) \(path): shows \(shown ?? "nothing"), defect-wins says \(expected ?? "nothing")") }
                }
                if path.rawValue == "status", let expected = ReferenceStore.formStatus(Array(entries.values)) {
                    if Int64(form.status.round) != expected.round || form.status.state.rawValue != expected.state {
                        violations.append("form \(id): status \(form.status.state.rawValue) round \(form.status.round), status-monotone says \(expected.state) round \(expected.round)")
                    }
                }
            }
            // notes-keep-all: every note entry is shown, each once; add-wins: a photo is shown
            // while any entry attaches it.
            let formNotes = ReferenceStore.keys(record, under: ["notes"])
            if Set(form.notes.map(\.id)) != formNotes || form.notes.count != formNotes.count {
                violations.append("form \(id): shows notes \(form.notes.map(\.id).sorted()), notes-keep-all says \(formNotes.sorted())")
            }
            let items = Set(record.entries.keys.compactMap { $0.segments.count >= 3 && $0.segments[0] == "items" ? String($0.segments[1]) : nil })
            for item in items.sorted() {
                let notes = ReferenceStore.keys(record, under: ["items", item, "notes"])
                let shownNotes = form.items[item]?.notes.map(\.id) ?? []
                if Set(shownNotes) != notes || shownNotes.count != notes.count {
                    violations.append("form \(id) item \(item): shows notes \(shownNotes.sorted()), notes-keep-all says \(notes.sorted())")
                }
                let photos = ReferenceStore.keys(record, under: ["items", item, "photos"])
                let shownPhotos = form.items[item]?.photos ?? []
                if Set(shownPhotos) != photos || shownPhotos.count != photos.count {
                    violations.append("form \(id) item \(item): shows photos \(shownPhotos.sorted()), add-wins says \(photos.sorted())")
                }
            }
        case .callback:
            guard let callback = try? CallbackRecord(stored) else { return ["callback \(id) cannot be read"] }
            guard let expected = ReferenceStore.callbackOutcome(record) else { break }
            if callback.outcome.rawValue != expected {
                violations.append("callback \(id): outcome \(callback.outcome.rawValue), callback-by-time says \(expected)")
            }
        case .complaint:
            guard let complaint = try? Complaint(stored) else { return ["complaint \(id) cannot be read"] }
            // unresolved-wins: a reached "unsatisfied" leaves an unresolved round, whatever a
            // concurrent or later-clocked "satisfied" says; no round is unresolved without one.
            let unsatisfied = ReferenceStore.unsatisfiedCallbacks(record)
            if unsatisfied > 0, complaint.unresolvedRounds == 0 {
                violations.append("complaint \(id): \(unsatisfied) reached unsatisfied callback(s) but no unresolved round (unresolved-wins)")
            }
            if complaint.unresolvedRounds > unsatisfied {
                violations.append("complaint \(id): \(complaint.unresolvedRounds) unresolved rounds from \(unsatisfied) unsatisfied callback(s)")
            }
            if complaint.status == .closed, record.entries["approval"] == nil {
                violations.append("complaint \(id): closed without an approval")
            }
        default:
            break
        }
        return violations
    }

    // MARK: causal consistency, while the run goes on

    /// What a device may show: for every acknowledged value, the values it superseded — the
    /// dots written at the same path that the delta carrying it had seen (§2.1: a write's context
    /// is what it supersedes). Only the same path counts: a client joins several edits of one
    /// record into one push entry, so the rest of a delta's context is what its other edits saw.
    /// Fed with every accepted delta, in order.
    public struct Causes: Sendable {
        /// Every dot ever written at each path of each record.
        private var written: [RecordID: [FieldPath: Set<Dot>]] = [:]
        private var causes: [RecordID: [Dot: Set<Dot>]] = [:]

        public init() {}

        public mutating func record(_ delta: RecordState) {
            for (path, entries) in delta.fields {
                written[delta.id, default: [:]][path, default: []].formUnion(entries.keys)
            }
            for (path, entries) in delta.fields {
                let here = written[delta.id]?[path] ?? []
                for dot in entries.keys where causes[delta.id]?[dot] == nil {
                    causes[delta.id, default: [:]][dot] = here.filter { $0 != dot && entries[$0] == nil && delta.context.contains($0) }
                }
            }
        }

        /// Effects a replica shows without their causes: a value whose writer had seen (and
        /// superseded) a dot the replica has not; a callback attempt whose repair the replica does
        /// not hold as completed.
        public func violations(of replica: String, records: [RecordState]) -> [String] {
            let byID = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            return violations(of: replica, records: records) { byID[$0] }
        }

        /// The same, for some of a replica's records; `lookup` finds its other records (the
        /// repair a callback follows).
        public func violations(of replica: String, records: [RecordState], lookup: (RecordID) -> RecordState?) -> [String] {
            var found: [String] = []
            for state in records {
                if let created = causes[state.id] {
                    shown: for (path, entries) in state.fields {
                        for dot in entries.keys {
                            guard let superseded = created[dot] else { continue }
                            if let first = superseded.filter({ !state.context.contains($0) }).min() {
                                found.append("\(replica): record \(state.id) \(path) shows \(dot) but has not seen \(first), which it superseded")
                                break shown
                            }
                        }
                    }
                }
                // Across records: a callback attempt follows a completed repair (the handheld
                // refuses one before), so a replica showing the attempt shows the completion.
                let subject = state.fields["subject"]?.values.first?.value
                if state.type == .callback, subject?["type"]?.stringValue == "work-order", let named = subject?["id"]?.stringValue,
                    state.fields.keys.contains(where: { $0.segments.first == "attempts" })
                {
                    let order = (try? RecordID(named)).flatMap(lookup).flatMap { try? WorkOrder($0) }
                    if order?.completedAt == nil {
                        found.append("\(replica): shows a callback attempt on \(named) but not the completion of the repair it follows")
                    }
                }
            }
            return found
        }
    }
}
