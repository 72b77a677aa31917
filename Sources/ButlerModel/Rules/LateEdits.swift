/// Finds content edits made concurrently with a form's submission (rule ``ResolutionRule/lateEdit``).
///
/// The winning status of the current round, once submitted or later, carries the version vector
/// its writer had seen. A value in a content field whose dot that vector does not cover was
/// written without knowledge of the submission: it is kept (nothing is lost) and flagged for the
/// reviewer. A review, close or new submission that has seen it clears the flag.
enum LateEdits {
    /// Fields that are not form content: the status itself and the supervisor's review notes.
    static func isContent(_ path: FieldPath) -> Bool {
        let first = path.segments.first
        if first == "status" || first == "review" { return false }
        // Rectification progress is tracked after submission by design.
        if first == "notices", path.segments.last == "status" { return false }
        return true
    }

    static func find(in state: RecordState, status: FormStatus) -> [Conflict] {
        guard status.state >= .submitted, let seen = status.seen else { return [] }
        var found: [Conflict] = []
        for path in state.fields.keys.sorted() where isContent(path) {
            for sibling in state.siblings(path) where !seen.contains(sibling.dot) {
                found.append(Conflict(
                    record: state.id, field: path, rule: .lateEdit, values: [Conflict.Value(sibling)], chosen: [sibling.value],
                    explanation: "\(sibling.entry.author) wrote \(Conflict.describe(sibling.value)) without having seen the form's "
                        + "\(status.state.rawValue) state (round \(status.round)); it is kept and flagged for review."))
            }
        }
        return found
    }
}
