import ButlerModel
import Foundation

/// The merge loop every store runs inside its push transaction: the deltas of one push, in order,
/// each checked by ``DeltaAdmission`` against the state it would merge into and joined with the
/// shared ButlerModel join.
///
/// Replica ids are bound here too: a device's first delta that mints dots under a replica id no
/// device holds binds that id to it (first contact); from then on only its own ids may mint.
enum MergeBatch {
    /// What one push did to the store, for the storage to write in the same transaction.
    struct Result {
        /// One outcome per delta.
        var outcomes: [MergeOutcome] = []
        /// The final state of every record that changed, in the order the records were first
        /// changed (the order their new sequence numbers follow).
        var changed: [RecordState] = []
        /// Replica ids bound to the pushing device by this push.
        var bindings: [ReplicaID] = []
        /// The accepted deltas that changed a record, in order, for the audit log.
        var audited: [AuditDraft] = []
    }

    /// - Parameters:
    ///   - existing: the stored states of (at least) the records the deltas name.
    ///   - refusedRecords: records every delta of this push to which is refused with the given error
    ///     (a stored record that cannot be decoded; a record this push would grow past the byte cap).
    ///   - owners: the device each replica id is bound to, for (at least) the pushing device's ids
    ///     and every replica minting a dot in `deltas`.
    ///   - history: for records whose deltas name dots they no longer hold, the value each dot was
    ///     first written with, from the audit log (see ``auditedValues(_:wanted:)``).
    static func apply(
        _ deltas: [RecordState], to existing: [RecordID: RecordState], refusedRecords: [RecordID: ModelError] = [:], by device: DeviceRecord,
        owners: [ReplicaID: String], history: [RecordID: [Dot: DeltaAdmission.Value]] = [:]
    ) -> Result {
        var written: [RecordID: [RecordState]] = [:]
        var states = existing
        var owners = owners
        var result = Result()
        result.outcomes.reserveCapacity(deltas.count)
        var order: [RecordID] = []
        var ordered = Set<RecordID>()
        for delta in deltas {
            if let error = refusedRecords[delta.id] {
                result.outcomes.append(.refused(error))
                continue
            }
            let before = states[delta.id]
            let minting = newDotReplicas(delta, before)
            var own = Set(owners.compactMap { $0.value == device.name ? $0.key : nil })
            // First contact: a device with no replica id yet takes the first unclaimed one it mints with.
            var binding: ReplicaID?
            if own.isEmpty, let first = minting.first(where: { owners[$0] == nil }) {
                binding = first
                own.insert(first)
            }
            let merged: RecordState
            do {
                merged = try DeltaAdmission.admit(
                    delta, into: before, by: Pusher(name: device.name, role: device.role, replicas: own), isUnbound: { owners[$0] == nil },
                    firstWritten: { dot in history[delta.id]?[dot] ?? Self.firstValue(of: dot, in: written[delta.id] ?? []) })
            } catch let error as ModelError {
                result.outcomes.append(.refused(error))
                continue
            } catch {
                result.outcomes.append(.refused(ModelError(.invalidValue, "\(error)")))
                continue
            }
            if let binding {
                owners[binding] = device.name
                result.bindings.append(binding)
            }
            guard merged != before else {
                result.outcomes.append(.merged(changed: false))
                continue
            }
            result.outcomes.append(.merged(changed: true, conflicts: merged.conflictRules()))
            result.audited.append(AuditDraft(record: delta.id, replicas: minting, delta: delta))
            // What this push wrote is history for later deltas of the same push (looked up only
            // when one of them names a dot its record no longer holds).
            written[delta.id, default: []].append(delta)
            if ordered.insert(delta.id).inserted { order.append(delta.id) }
            states[delta.id] = merged
        }
        result.changed = order.compactMap { id in states[id] == existing[id] ? nil : states[id] }
        return result
    }

    /// ``apply(_:to:refusedRecords:by:owners:history:)``, then the canonical encoding of every
    /// changed record; a record this push would grow past ``RecordLimits/maxStateBytes`` refuses
    /// this push's deltas to it (`record-too-large`) and the push is merged again without them,
    /// which changes no other record. Returns the result and the encodings the store writes.
    static func applyBounded(
        _ deltas: [RecordState], to existing: [RecordID: RecordState], unreadable: [RecordID: ModelError], by device: DeviceRecord,
        owners: [ReplicaID: String], history: [RecordID: [Dot: DeltaAdmission.Value]]
    ) -> (result: Result, encoded: [RecordID: (state: RecordState, bytes: [UInt8])]) {
        var refused = unreadable.mapValues { error in
            ModelError(.storedRecordUnreadable, "the stored record cannot be read (\(error.message)); `butler-server check` reports it")
        }
        var result = apply(deltas, to: existing, refusedRecords: refused, by: device, owners: owners, history: history)
        var encoded: [RecordID: (state: RecordState, bytes: [UInt8])] = [:]
        var oversized = false
        for state in result.changed {
            let bytes = state.canonicalJSON
            if bytes.count > RecordLimits.maxStateBytes {
                refused[state.id] = ModelError(
                    .recordTooLarge, "record \(state.id) would take \(bytes.count) bytes; at most \(RecordLimits.maxStateBytes) are stored")
                oversized = true
            } else {
                encoded[state.id] = (state, bytes)
            }
        }
        if oversized {
            result = apply(deltas, to: existing, refusedRecords: refused, by: device, owners: owners, history: history)
            encoded = encoded.filter { refused[$0.key] == nil }
        }
        return (result, encoded)
    }

    /// For each record, the dots its deltas carry that the stored state has seen but no longer
    /// holds: what a store looks up in the audit log before merging.
    static func historyWanted(_ deltas: [RecordState], _ existing: [RecordID: RecordState]) -> [RecordID: Set<Dot>] {
        var wanted: [RecordID: Set<Dot>] = [:]
        for delta in deltas {
            let dots = DeltaAdmission.supersededDots(in: delta, of: existing[delta.id])
            if !dots.isEmpty { wanted[delta.id, default: []].formUnion(dots) }
        }
        return wanted
    }

    /// A stored state read back for merging; a row whose state names another record is as
    /// unreadable as one that does not decode (it was changed behind the server's back).
    static func decodeStored(_ bytes: [UInt8], id: RecordID) throws -> RecordState {
        let state = try JSONParser.parseRecordState(bytes)
        guard state.id == id else { throw ModelError(.invalidValue, "the row of \(id) holds the state of \(state.id)") }
        return state
    }

    /// The value `dot` was first written with among `deltas` (in order), or nil.
    static func firstValue(of dot: Dot, in deltas: [RecordState]) -> DeltaAdmission.Value? {
        for delta in deltas {
            for (path, register) in delta.fields {
                if let entry = register[dot] { return DeltaAdmission.Value(path: path, dot: dot, entry: entry) }
            }
        }
        return nil
    }

    /// The first value of each `wanted` dot among a record's audited deltas (canonical JSON).
    static func auditedValues(_ deltas: [[UInt8]], wanted: Set<Dot>) -> [Dot: DeltaAdmission.Value] {
        var values: [Dot: DeltaAdmission.Value] = [:]
        for bytes in deltas {
            guard let delta = try? JSONParser.parseRecordState(bytes) else { continue }
            for (path, register) in delta.fields {
                for (dot, entry) in register where wanted.contains(dot) && values[dot] == nil {
                    values[dot] = DeltaAdmission.Value(path: path, dot: dot, entry: entry)
                }
            }
        }
        return values
    }

    /// The replicas that mint dots `state` has not seen, sorted.
    static func newDotReplicas(_ delta: RecordState, _ state: RecordState?) -> [ReplicaID] {
        var replicas = Set<ReplicaID>()
        for register in delta.fields.values {
            for dot in register.keys where !(state?.context.contains(dot) ?? false) { replicas.insert(dot.replica) }
        }
        return replicas.sorted()
    }

    /// Every replica that writes a value in `deltas`: whose bindings a store loads before merging.
    static func writingReplicas(_ deltas: [RecordState]) -> [String] {
        var replicas = Set<String>()
        for delta in deltas {
            for register in delta.fields.values {
                for dot in register.keys { replicas.insert(dot.replica.rawValue) }
            }
        }
        return replicas.sorted()
    }
}
