/// What the server vouches for about the device behind a push: its role and the replica ids bound
/// to it. Everything else a delta says is a claim that ``DeltaAdmission`` checks.
public struct Pusher: Hashable, Sendable {
    public let name: String
    public let role: DeviceRole
    /// The replica ids the server has bound to this device; only these may mint new dots.
    public let replicas: Set<ReplicaID>

    public init(name: String, role: DeviceRole, replicas: Set<ReplicaID>) {
        self.name = name
        self.role = role
        self.replicas = replicas
    }
}

/// The checks a server runs on every pushed delta before it may touch a stored record.
///
/// The join (``RecordState/merge(_:)``) trusts its inputs: a delta's causal context says which
/// values it has *seen*, and everything seen but absent is treated as removed. A device that is
/// authenticated but not trusted — buggy, cloned, restored from a backup, or in bad hands — could
/// use that to pre-empt edits not yet received (claim another replica's future dots), to erase a
/// review (claim a supervisor's dots with no values), to impersonate another device (mint dots
/// under its replica id), or to wedge a record (grow it past ``RecordLimits``). So every claim is
/// checked against the stored state, inside the transaction that merges it:
///
/// | claim | rule | refusal code |
/// |---|---|---|
/// | record id, type and zone | a derived id names its type (`photo:…`, `cb:…`); an id keeps its first type and zone forever | `record-mismatch` |
/// | every value | under one of the pusher's replica ids (a value the record already holds under another device's id — a replayed batch — included) | `foreign-dot` |
/// | a dot the record has seen | carries exactly the value first written under it (held, or from the server's history) | `dot-reused` |
/// | a counter of the pusher's own replica | at most ``maxCounterJump`` beyond what the record holds | `counter-jump` |
/// | the causal context | covers only dots the record holds, plus the pusher's own | `unknown-dots` |
/// | a status's `seen` vector | no counter beyond what the merged record has seen | `unknown-dots` |
/// | the effect (values added *and* removed, and the resolved form and notice statuses) | allowed for the pusher's role (see ``forbiddenEffect(added:removed:type:pusher:)``, ``forbiddenStatusChange(from:to:added:pusher:)``, ``forbiddenErasure(_:by:pusher:)``, ``forbiddenNoticeChange(from:to:added:pusher:)``) | `role-forbidden` |
/// | the merged record | within ``RecordLimits`` | `record-too-large` |
///
/// A refusal leaves the stored record untouched; it is decided from the delta and the stored
/// state alone, so it touches only the delta that earned it.
public enum DeltaAdmission {
    /// How far beyond the highest counter a record holds for a replica that replica's next push may
    /// reach: far more edits than one device makes to one record between two syncs, and far too few
    /// to walk a counter up to 2⁵³ (``Dot/maxCounter``) in any number of pushes a server would serve.
    public static let maxCounterJump: UInt64 = 1 << 20

    /// Checks every claim `delta` makes against `stored` (nil: the server holds no such record)
    /// and returns the merged state.
    ///
    /// - Throws: a ``ModelError`` whose code says which claim failed; nothing is merged then.
    /// - Parameters:
    ///   - isUnbound: whether no device holds a replica id yet (see ``checkFieldDots``).
    ///   - firstWritten: the value a dot was first written with, for a dot the record has seen but
    ///     no longer holds (superseded); the server answers it from its audit log, so a reused dot
    ///     is caught even after its first value was overwritten.
    public static func admit(
        _ delta: RecordState, into stored: RecordState?, by pusher: Pusher, isUnbound: (ReplicaID) -> Bool = { _ in false },
        firstWritten: (Dot) -> Value? = { _ in nil }
    ) throws -> RecordState {
        try RecordIdentity.check(id: delta.id, type: delta.type, zone: delta.zone)
        if let stored, stored.type != delta.type || stored.zone != delta.zone {
            throw ModelError(
                .recordMismatch,
                // Not naming the stored zone: a device must not learn what another zone holds.
                "record \(delta.id) exists with another type or zone; a record keeps its type and zone for ever")
        }
        let base = stored ?? RecordState(id: delta.id, type: delta.type, zone: delta.zone)
        let added = try checkFieldDots(delta, base: base, pusher: pusher, isUnbound: isUnbound, firstWritten: firstWritten)
        try checkContext(delta.context, base: base.context, pusher: pusher)
        let merged = try base.merged(with: delta)
        try checkSeenClaims(added, merged: merged, pusher: pusher)
        let removed = removedValues(by: delta, from: base)
        if let reason = forbiddenEffect(added: added, removed: removed, type: delta.type, pusher: pusher)
            ?? forbiddenStatusChange(from: base, to: merged, added: added, pusher: pusher)
            ?? forbiddenErasure(removed, by: delta, pusher: pusher)
            ?? forbiddenNoticeChange(from: base, to: merged, added: added, pusher: pusher)
        {
            throw ModelError(.roleForbidden, reason)
        }
        try RecordLimits.check(merged)
        return merged
    }

    /// One value of a register, where it is.
    public struct Value: Hashable, Sendable {
        public let path: FieldPath
        public let dot: Dot
        public let entry: FieldEntry

        public init(path: FieldPath, dot: Dot, entry: FieldEntry) {
            self.path = path
            self.dot = dot
            self.entry = entry
        }
    }

    /// The dots of `delta` that `stored` has seen but no longer holds: the ones whose first value
    /// only a history (the server's audit log) can tell.
    public static func supersededDots(in delta: RecordState, of stored: RecordState?) -> Set<Dot> {
        guard let stored else { return [] }
        var dots = Set<Dot>()
        for (path, register) in delta.fields {
            for dot in register.keys where stored.context.contains(dot) && stored.fields[path]?[dot] == nil { dots.insert(dot) }
        }
        // A dot held at another path is held all the same (and caught by the held index).
        guard !dots.isEmpty else { return dots }
        for register in stored.fields.values { dots.subtract(register.keys) }
        return dots
    }

    /// The values of `delta` the record does not hold yet (new dots), after checking that each is
    /// the pusher's and that every dot the record already holds carries the same value.
    ///
    /// A device only ever sends values of its own edits, so a value under another replica is
    /// refused even when the record holds it already (a batch replayed by another device), unless
    /// no device holds that replica id yet (`unbound`: a re-send from before ids were bound),
    /// which changes nothing.
    static func checkFieldDots(
        _ delta: RecordState, base: RecordState, pusher: Pusher, isUnbound: (ReplicaID) -> Bool, firstWritten: (Dot) -> Value? = { _ in nil }
    ) throws -> [Value] {
        var held: [Dot: (path: FieldPath, entry: FieldEntry)]?
        var added: [Value] = []
        for (path, register) in delta.fields {
            for (dot, entry) in register {
                let known = base.context.contains(dot)
                guard pusher.replicas.contains(dot.replica) || (known && isUnbound(dot.replica)) else {
                    throw ModelError(
                        .foreignDot,
                        "device \(pusher.name) may not write as replica \(dot.replica) (dot \(dot) in \(path)); its replica ids are \(describe(pusher.replicas))")
                }
                if known {
                    // Already seen: a re-send, or a value since superseded (which the join drops).
                    // A value the record still holds under this dot must be exactly this one.
                    if held == nil { held = index(base) }
                    if let existing = held?[dot] ?? firstWritten(dot).map({ ($0.path, $0.entry) }), existing.path != path || existing.entry != entry {
                        throw ModelError(
                            .dotReused,
                            "dot \(dot) of record \(delta.id) already holds another value at \(existing.path); a dot is written once (a restored backup or a cloned device reuses counters)")
                    }
                    continue
                }
                try checkJump(dot.replica, dot.counter, base: base.context)
                added.append(Value(path: path, dot: dot, entry: entry))
            }
        }
        return added
    }

    /// Every dot the context claims to have seen exists in `base`, or is the pusher's own (within
    /// the counter bound).
    static func checkContext(_ context: CausalContext, base: CausalContext, pusher: Pusher) throws {
        for (replica, counter) in context.vector.counters {
            if pusher.replicas.contains(replica) {
                try checkJump(replica, counter, base: base)
            } else if !covers(base, replica, upTo: counter) {
                throw ModelError(
                    .unknownDots,
                    "the edit claims to have seen \(replica) up to \(counter), but the record holds \(base.maxCounter(of: replica)) at most of it; a device can only have seen what exists")
            }
        }
        for dot in context.cloud {
            if pusher.replicas.contains(dot.replica) {
                try checkJump(dot.replica, dot.counter, base: base)
            } else if !base.contains(dot) {
                throw ModelError(.unknownDots, "the edit claims to have seen \(dot), which the record does not hold")
            }
        }
    }

    /// A status's `seen` vector (what the submitter or reviewer had seen, which decides late edits)
    /// may not reach beyond what the merged record has seen.
    static func checkSeenClaims(_ added: [Value], merged: RecordState, pusher: Pusher) throws {
        guard merged.type == .inspectionForm else { return }
        for value in added where value.path.rawValue == "status" {
            guard let seen = value.entry.value["seen"], let vector = try? VersionVector(json: seen) else { continue }
            for (replica, counter) in vector.counters where counter > merged.context.maxCounter(of: replica) {
                throw ModelError(.unknownDots, "the status claims to have seen \(replica) up to \(counter), beyond what the record holds")
            }
        }
    }

    /// The values `base` holds that merging `delta` would drop: those whose dots the delta has seen
    /// but does not carry.
    public static func removedValues(by delta: RecordState, from base: RecordState) -> [Value] {
        guard !delta.context.isEmpty else { return [] }
        var removed: [Value] = []
        for (path, register) in base.fields {
            let theirs = delta.fields[path]
            for (dot, entry) in register where delta.context.contains(dot) && theirs?[dot] == nil {
                removed.append(Value(path: path, dot: dot, entry: entry))
            }
        }
        return removed
    }

    /// Why a delta with this effect is not allowed for `pusher`, or `nil`.
    ///
    /// - Review notes are the supervisor's (001 §4.3: the butler submits, the supervisor reviews):
    ///   a butler's delta may neither add nor remove (supersede) one, nor write a reviewed or
    ///   closed status (the resolved status is judged by ``forbiddenStatusChange(from:to:added:pusher:)``).
    /// - The removals are judged by each field's merge rule in ``FieldSchema``: an add-wins value
    ///   (an evidence photo attached to an item or a record) is detached only by whoever attached it
    ///   or by a supervisor; an append-only value (a callback attempt, a resident's visit, a
    ///   complaint's fix or callback) is never removed, whatever the pusher's role: no client removes
    ///   or rewrites one, so a delta that does is a rogue device's, and an entry once accepted must
    ///   never be lost.
    /// - A complaint's approval (and the `closedAt` written with it) is the project manager's
    ///   (`manager` devices): nobody else may write or remove it. Its `rounds/*` (as written before
    ///   rounds were derived) are read only: nobody writes one.
    public static func forbiddenEffect(added: [Value], removed: [Value], type: RecordType, pusher: Pusher) -> String? {
        if type == .complaint, let value = added.first(where: { $0.path.segments.first == "rounds" }) {
            return "\(value.path) is read only: a complaint's rounds are derived from its fixes and callbacks"
        }
        if type == .complaint, pusher.role != .manager,
            let value = (added + removed).first(where: { complaintApprovalPaths.contains($0.path.rawValue) })
        {
            return "only the project manager approves (closes) a complaint (\(value.path))"
        }
        let schema = FieldSchema.of(type)
        for value in removed where schema.field(for: value.path)?.rule == .appendOnly {
            return "\(value.path) is append-only: it cannot be removed"
        }
        guard pusher.role == .butler else { return nil }
        if type == .inspectionForm {
            for value in added {
                if value.path.segments.first == "review" { return "only a supervisor writes review notes" }
                if value.path.rawValue == "status", isReviewedOrClosed(value.entry) { return "only a supervisor reviews or closes a form" }
            }
            for value in removed where value.path.segments.first == "review" {
                return "a butler's edit may not remove a supervisor's review note"
            }
        }
        for value in removed where !pusher.replicas.contains(value.dot.replica) {
            switch schema.field(for: value.path)?.rule {
            case .addWins?:
                // An attach adds beside the entries others hold (RecordState.add): whatever the
                // delta writes, removing another device's entry is a detach, and a removal then
                // re-attached by the same device could not be told from an erasure.
                return "only the butler who attached an evidence photo, or a supervisor, may detach it (\(value.path))"
            case .notesKeepAll?:
                // Notes and rain reports are written once, each under its own writer's dot: a
                // butler's delta never writes over another device's, even to put a value in its place.
                return "a butler's edit may not write over \(value.path), written by another device"
            default:
                continue
            }
        }
        return nil
    }

    /// A form's status as everyone reads it (the status-monotone rule) is the supervisor's once it
    /// is reviewed or closed: a butler's delta may not change a resolved reviewed or closed status
    /// (an undo by supersession, or a concurrent higher round that outranks it), may not make one,
    /// and may not jump more than one round ahead (which would exhaust the rounds).
    ///
    /// Judged on the resolved status rather than on each value, so a butler may still supersede a
    /// reviewed value that a later round already outranks (its reopen raced with the review).
    static func forbiddenStatusChange(from base: RecordState, to merged: RecordState, added: [Value], pusher: Pusher) -> String? {
        guard pusher.role == .butler, base.type == .inspectionForm, added.contains(where: { $0.path.rawValue == "status" })
            || base.fields["status"] != merged.fields["status"]
        else { return nil }
        guard let before = try? InspectionForm.status(of: base), let after = try? InspectionForm.status(of: merged) else { return nil }
        if before.state >= .reviewed && after != before {
            return "a butler's edit may not undo a review or a closing; ask a supervisor to reopen the form"
        }
        if after.state >= .reviewed && after != before { return "only a supervisor reviews or closes a form" }
        for value in added where value.path.rawValue == "status" {
            if let status = try? FormStatus(json: value.entry.value), status.round > before.round + 1 {
                return "a reopen starts round \(before.round + 1), not round \(status.round)"
            }
        }
        return nil
    }

    /// A butler's delta may remove another device's value only by writing over it (a new value at
    /// the same path, as every edit of the model does); a removal with nothing in its place would
    /// erase a colleague's finding, note or notice outright. (Detaching a photo, the one removal
    /// the model makes, is judged by ``forbiddenEffect(added:removed:type:pusher:)``.)
    static func forbiddenErasure(_ removed: [Value], by delta: RecordState, pusher: Pusher) -> String? {
        guard pusher.role == .butler else { return nil }
        let schema = FieldSchema.of(delta.type)
        for value in removed where !pusher.replicas.contains(value.dot.replica) && (delta.fields[value.path]?.isEmpty ?? true) {
            if schema.field(for: value.path)?.rule == .addWins { continue }  // a detach: judged by its author
            return "a butler's edit may not erase \(value.path), written by another device, without writing over it"
        }
        return nil
    }

    /// A complaint's approval, and the `closedAt` written with it for older readers.
    static let complaintApprovalPaths: Set<String> = ["approval", "closedAt"]

    static func isReviewedOrClosed(_ entry: FieldEntry) -> Bool {
        guard let state = entry.value["state"]?.stringValue else { return false }
        return state == FormState.reviewed.rawValue || state == FormState.closed.rawValue
    }

    static func checkJump(_ replica: ReplicaID, _ counter: UInt64, base: CausalContext) throws {
        let highest = base.maxCounter(of: replica)
        guard counter <= highest + maxCounterJump else {
            throw ModelError(
                .counterJump,
                "replica \(replica) jumps from counter \(highest) to \(counter) on one record; at most \(maxCounterJump) beyond is accepted")
        }
    }

    /// Whether `context` has seen every dot of `replica` from 1 to `counter`.
    static func covers(_ context: CausalContext, _ replica: ReplicaID, upTo counter: UInt64) -> Bool {
        let top = context.vector[replica]
        if counter <= top { return true }
        // The rest must all be in the cloud: impossible when there are more of them than cloud dots
        // (which also keeps a forged counter near 2⁵³ from making this loop long).
        guard counter - top <= UInt64(context.cloud.count) else { return false }
        for n in (top + 1)...counter where !context.cloud.contains(Dot(unchecked: replica, n)) { return false }
        return true
    }

    static func index(_ state: RecordState) -> [Dot: (path: FieldPath, entry: FieldEntry)] {
        var map: [Dot: (path: FieldPath, entry: FieldEntry)] = [:]
        for (path, register) in state.fields {
            for (dot, entry) in register { map[dot] = (path, entry) }
        }
        return map
    }

    static func describe(_ replicas: Set<ReplicaID>) -> String {
        replicas.isEmpty ? "none yet" : replicas.sorted().map(\.rawValue).joined(separator: ", ")
    }
}
