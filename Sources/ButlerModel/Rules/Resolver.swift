/// Applies each field's ``ResolutionRule`` to a record state: the read side of the merge.
public enum Resolver {
    /// Resolves one field of `state` by the rule its schema gives it.
    public static func resolve(_ path: FieldPath, in state: RecordState) -> Resolution? {
        let siblings = state.siblings(path)
        guard !siblings.isEmpty else { return nil }
        let rule = FieldSchema.of(state.type).field(for: path)?.rule ?? .lastWriterWins
        return Resolution(path: path, rule: rule, siblings: siblings, chosen: choose(rule, siblings))
    }

    /// Resolves every field of `state`, in path order.
    public static func resolveAll(_ state: RecordState) -> [Resolution] {
        state.fields.keys.sorted().compactMap { resolve($0, in: state) }
    }

    /// The value `rule` shows for `siblings` (given in last-writer order).
    static func choose(_ rule: ResolutionRule, _ siblings: [Sibling]) -> [Sibling] {
        switch rule {
        case .notesKeepAll, .unionOfSnapshots:
            return siblings
        case .defectWins:
            let best = siblings.max { a, b in
                let ra = ChecklistResult(rawValue: a.value.stringValue ?? "")?.rank ?? -1
                let rb = ChecklistResult(rawValue: b.value.stringValue ?? "")?.rank ?? -1
                return ra != rb ? ra < rb : Sibling.lastWriterPrecedes(a, b)
            }
            return best.map { [$0] } ?? []
        case .statusMonotone:
            let best = siblings.max { a, b in
                let ka = monotoneKey(a.value)
                let kb = monotoneKey(b.value)
                return ka != kb ? ka < kb : Sibling.lastWriterPrecedes(a, b)
            }
            return best.map { [$0] } ?? []
        case .addWins, .appendOnly, .lastWriterWins, .lateEdit, .callbackByTime, .unresolvedWins:
            return siblings.last.map { [$0] } ?? []
        }
    }

    /// The order of a status value: form statuses by `(round, state)`, notice statuses by rank.
    static func monotoneKey(_ value: JSONValue) -> (Int64, Int64) {
        if let status = try? FormStatus(json: value) {
            return (Int64(status.round), Int64(status.state.rank))
        }
        if let s = value.stringValue, let notice = NoticeStatus(rawValue: s) {
            return (0, Int64(notice.rank))
        }
        return (-1, -1)
    }
}
