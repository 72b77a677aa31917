import ButlerModel

/// The merge loop every store runs inside its push transaction: the deltas of one push, in order,
/// joined into the states they name with the shared ButlerModel join.
enum MergeBatch {
    /// - Parameter existing: the stored states of (at least) the records the deltas name.
    /// - Returns: one outcome per delta, and the final state of every record that changed, in the
    ///   order the records were first changed (the order their new sequence numbers follow).
    static func apply(_ deltas: [RecordState], to existing: [RecordID: RecordState]) -> (outcomes: [MergeOutcome], changed: [RecordState]) {
        var states = existing
        var outcomes: [MergeOutcome] = []
        outcomes.reserveCapacity(deltas.count)
        var order: [RecordID] = []
        var ordered = Set<RecordID>()
        for delta in deltas {
            let before = states[delta.id]
            var state = before ?? RecordState(id: delta.id, type: delta.type, zone: delta.zone)
            do { try state.merge(delta) } catch let error as ModelError {
                outcomes.append(.refused(error))
                continue
            } catch {
                outcomes.append(.refused(ModelError(.recordMismatch, "\(error)")))
                continue
            }
            guard state != before else {
                outcomes.append(.merged(changed: false))
                continue
            }
            outcomes.append(.merged(changed: true, conflicts: state.conflictRules()))
            if ordered.insert(delta.id).inserted { order.append(delta.id) }
            states[delta.id] = state
        }
        let changed = order.compactMap { id in states[id] == existing[id] ? nil : states[id] }
        return (outcomes, changed)
    }
}
