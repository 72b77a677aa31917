/// The named, deterministic rules that resolve a field's concurrent values on read.
///
/// Concurrent values are never dropped by the merge; a rule only decides what a reader is shown.
/// The raw value is the rule's name in conflict reports, on the wire and in `Protocol/SYNC.md`.
public enum ResolutionRule: String, CaseIterable, Hashable, Sendable {
    /// Checklist item result: `defect` > `ok` > `na`: a reported problem is never erased by a concurrent "ok".
    case defectWins = "defect-wins"
    /// Free-text notes: every concurrent text is kept and shown with its author.
    case notesKeepAll = "notes-keep-all"
    /// Set members (photos on an item, a photo's attachments): an add survives a concurrent remove.
    case addWins = "add-wins"
    /// Status fields follow a monotone order (form: draft < submitted < reviewed < closed, per round).
    case statusMonotone = "status-monotone"
    /// A content edit the latest submission of the round had not seen: kept, flagged for review.
    case lateEdit = "late-edit"
    /// Callback outcome: from the attempts ordered by when they happened; `unsatisfied` wins a tie.
    case callbackByTime = "callback-by-time"
    /// Complaint round verdict: any reached, unsatisfied callback of the round makes it
    /// `unresolved`, whatever a concurrent (or later-clocked) satisfied one says.
    case unresolvedWins = "unresolved-wins"
    /// Append-only entries (callback attempts, a complaint's fixes and callbacks): each is written once; never conflicts.
    case appendOnly = "append-only"
    /// Plain scalars: the last writer by hybrid logical clock, replica id breaking ties.
    case lastWriterWins = "lww-hlc"
    /// A form's `submitted` snapshot: concurrent snapshots (two devices submitting one round) are
    /// all kept and read together (``SubmittedContent``); never a conflict.
    case unionOfSnapshots = "union-of-snapshots"
}

/// What a rule chose for one field.
public struct Resolution: Hashable, Sendable {
    public let path: FieldPath
    public let rule: ResolutionRule
    /// All values the field holds, in last-writer order.
    public let siblings: [Sibling]
    /// The values shown to readers: one, or all of them for ``ResolutionRule/notesKeepAll``.
    public let chosen: [Sibling]

    /// The value shown, when the rule shows exactly one.
    public var value: JSONValue? { chosen.count == 1 ? chosen[0].value : nil }

    /// Whether the field holds concurrent values that differ: a conflict to list and explain.
    public var isConflict: Bool {
        guard siblings.count > 1, rule != .unionOfSnapshots else { return false }
        if rule == .statusMonotone {
            // Two submissions of the same round differ only in what they had seen: no disagreement.
            let first = Resolver.monotoneKey(siblings[0].value)
            return siblings.contains { Resolver.monotoneKey($0.value) != first }
        }
        let first = siblings[0].value
        return siblings.contains { $0.value != first }
    }
}
