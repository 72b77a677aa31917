/// Finds content edits made concurrently with a form's submission (rule ``ResolutionRule/lateEdit``).
///
/// The statuses of the current round, once submitted or later, carry the version vectors their
/// writers had seen (united when submissions were concurrent). A value in a content field whose
/// dot none of them covers was written without knowledge of the submission: it is kept and
/// flagged for the reviewer, beside what the submission held there (``SubmittedContent``). A value
/// the submission held that is gone (overwritten or removed late) is flagged too. A review, close
/// or new submission that has seen it clears the flag.
enum LateEdits {
    /// Fields that are not form content: the status itself and the supervisor's review notes.
    static func isContent(_ path: FieldPath) -> Bool {
        let first = path.segments.first
        if first == "status" || first == "review" || first == "submitted" { return false }
        // Rectification progress (status, evidence photos, notes) is tracked after submission by design.
        if first == "notices", path.segments.count > 2, ["status", "photos", "notes"].contains(path.segments[2]) { return false }
        return true
    }

    static func find(in state: RecordState, status: FormStatus) -> [Conflict] {
        guard status.state >= .submitted, status.seen != nil else { return [] }
        // Concurrent submissions of the round: what any of their writers had seen is not late.
        var seen = VersionVector()
        for sibling in state.siblings("status") {
            if let other = try? FormStatus(json: sibling.value), other.round == status.round, other.state >= .submitted, let vector = other.seen {
                seen.formUnion(vector)
            }
        }
        let submitted = SubmittedContent.union(in: state, round: status.round)
        var found: [Conflict] = []
        let paths = Set(state.fields.keys.filter(isContent)).union(submitted.map { Set($0.keys) } ?? [])
        for path in paths.sorted() {
            let current = state.siblings(path)
            let late = current.filter { !seen.contains($0.dot) }
            let before = submitted?[path] ?? []
            let removed = before.subtracting(current.map(\.value))
            guard !late.isEmpty || !removed.isEmpty else { continue }
            let was = before.isEmpty ? "" : "; the round submitted " + before.map(Conflict.describe).sorted().joined(separator: " and ")
            let explanation: String
            if !late.isEmpty {
                explanation = late.map { "\($0.entry.author) wrote \(Conflict.describe($0.value))" }.joined(separator: " and ")
                    + " without having seen the form's \(status.state.rawValue) state (round \(status.round))\(was); both are kept and flagged for review."
            } else {
                explanation = "Removed by a device that had not seen the form's \(status.state.rawValue) state (round \(status.round))\(was); flagged for review."
            }
            found.append(Conflict(
                record: state.id, field: path, rule: .lateEdit, values: late.map(Conflict.Value.init), chosen: late.map(\.value),
                explanation: explanation, submitted: before.sorted { $0.canonicalString < $1.canonicalString }))
        }
        return found
    }
}
