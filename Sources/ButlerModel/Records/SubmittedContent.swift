/// What the writer of a form's submitted (or reviewed, or closed) status saw of its content:
/// `submitted = {"round": n, "content": {"<path>": [values…]}}`, written beside the status in the
/// same edit (SYNC.md §5.1).
///
/// A late edit made by a device that had not seen the submission may overwrite or remove what was
/// submitted; the snapshot keeps it visible beside the late value, so the reviewer sees both. A
/// review or close writes a new snapshot of what the supervisor saw, which clears the flags of
/// the removals it saw. Concurrent snapshots (two devices submitting the same round) are united.
public struct SubmittedContent: Hashable, Sendable {
    public let round: Int
    /// Every value each content field held when the status was written, by path.
    public let content: [FieldPath: Set<JSONValue>]

    /// The most entries one snapshot holds (the record limits bound the bytes).
    static let maxPaths = 10_000

    /// The snapshot of `state`'s content for a status of `round`.
    static func of(_ state: RecordState, round: Int) -> JSONValue {
        var content: [String: JSONValue] = [:]
        for (path, register) in state.fields where LateEdits.isContent(path) && !register.isEmpty {
            let values = Set(register.values.map(\.value)).sorted { $0.canonicalString < $1.canonicalString }
            content[path.rawValue] = .array(values)
        }
        return ["round": .int(Int64(round)), "content": .object(content)]
    }

    init(json: JSONValue) throws {
        let r = try JSONObjectReader(json, path: "submitted")
        round = Int(try r.int("round"))
        guard round >= 1, let object = r.members["content"]?.objectValue, object.count <= Self.maxPaths else {
            throw ModelError(.invalidField, "submitted must be {\"round\": n ≥ 1, \"content\": {path: [values]}} with at most \(Self.maxPaths) paths")
        }
        var content: [FieldPath: Set<JSONValue>] = [:]
        for (key, values) in object {
            let path = try FieldPath(key)
            guard LateEdits.isContent(path), let list = values.arrayValue else {
                throw ModelError(.invalidField, "submitted.content may hold only content fields, each with an array of values")
            }
            try FieldSchema.inspectionForm.field(for: path).map { field in try list.forEach(field.validate) }
            content[path] = Set(list)
        }
        self.content = content
    }

    static let validate: @Sendable (JSONValue) throws -> Void = { value in _ = try SubmittedContent(json: value) }

    /// The union of the snapshots of `round` in `state` (several when submissions were concurrent),
    /// or `nil` when there is none (a form submitted by an older client).
    static func union(in state: RecordState, round: Int) -> [FieldPath: Set<JSONValue>]? {
        let snapshots = (Resolver.resolve("submitted", in: state)?.chosen ?? []).compactMap { try? SubmittedContent(json: $0.value) }.filter { $0.round == round }
        guard !snapshots.isEmpty else { return nil }
        return snapshots.reduce(into: [:]) { all, s in all.merge(s.content) { $0.union($1) } }
    }
}
