/// The replicated state of one record: a causal map from field paths to multi-value registers.
///
/// Each field holds the values (keyed by the ``Dot`` that wrote them) not yet superseded; the
/// record's ``context`` holds every dot the state has seen. A value whose dot the context has seen
/// but which is absent from the field was overwritten or removed.
///
/// The same type is a full state and a delta (the output of one edit: the new values plus the dots
/// they supersede), and ``merge(_:)`` is the one join for both. It is the standard causal-CRDT join
/// (Almeida, Shoker, Baquero, *Delta State Replicated Data Types*, 2018): a value survives when both
/// sides hold it, or when one side holds it and the other side has not seen its dot. The join is
/// commutative, associative and idempotent, so any delivery order, duplication or batching of
/// deltas and states gives the same state, byte for byte in ``canonicalJSON``.
///
/// ```swift
/// var butlerA = try RecordState(id: formID, type: .inspectionForm, zone: zone)
/// let delta = butlerA.write("items/tiles/result", "defect", stamp: stamp)
/// try server.merge(delta)
/// ```
public struct RecordState: Hashable, Sendable {
    public let id: RecordID
    public let type: RecordType
    public let zone: Zone
    public internal(set) var context: CausalContext
    public internal(set) var fields: [FieldPath: [Dot: FieldEntry]]

    /// An empty state (or delta) of a record.
    public init(id: RecordID, type: RecordType, zone: Zone) {
        self.id = id
        self.type = type
        self.zone = zone
        self.context = CausalContext()
        self.fields = [:]
    }

    /// Builds a state from parts, checking that every value's dot is in the context and that no
    /// dot is used twice.
    public init(id: RecordID, type: RecordType, zone: Zone, context: CausalContext, fields: [FieldPath: [Dot: FieldEntry]]) throws {
        self.init(id: id, type: type, zone: zone)
        var seen = Set<Dot>()
        for (path, register) in fields {
            guard !register.isEmpty else { throw ModelError(.invalidValue, "field \(path) has no values") }
            for dot in register.keys {
                guard context.contains(dot) else {
                    throw ModelError(.invalidValue, "field \(path) holds dot \(dot) that the context has not seen")
                }
                guard seen.insert(dot).inserted else {
                    throw ModelError(.invalidValue, "dot \(dot) appears in more than one field")
                }
            }
        }
        self.context = context
        self.fields = fields
    }

    /// Whether the state has seen nothing (a record never written).
    public var isEmpty: Bool { context.isEmpty }

    /// The values of a field, in last-writer order (oldest first).
    public func siblings(_ path: FieldPath) -> [Sibling] {
        guard let register = fields[path] else { return [] }
        return register.map { Sibling(dot: $0.key, entry: $0.value) }.sorted(by: Sibling.lastWriterPrecedes)
    }

    /// The fields below `prefix` (not including `prefix` itself), by path.
    public func paths(under prefix: FieldPath) -> [FieldPath] {
        let start = prefix.rawValue + "/"
        return fields.keys.filter { $0.rawValue.hasPrefix(start) }.sorted()
    }

    // MARK: - Join

    /// Joins `other` (a delta or a full state of the same record) into this state.
    ///
    /// - Throws: ``ModelError/Code/recordMismatch`` when `other` is a different record (id, type or
    ///   zone differ); the state is then unchanged.
    public mutating func merge(_ other: RecordState) throws {
        guard other.id == id, other.type == type, other.zone == zone else {
            throw ModelError(
                .recordMismatch,
                "cannot merge \(other.type.rawValue) \(other.id) in zone \(other.zone) into \(type.rawValue) \(id) in zone \(zone)")
        }
        // Values only this side holds survive unless the other side has seen (and so dropped) them.
        if !other.context.isEmpty {
            for (path, register) in fields where other.fields[path] == nil {
                let kept = register.filter { !other.context.contains($0.key) }
                if kept.count != register.count { fields[path] = kept.isEmpty ? nil : kept }
            }
        }
        for (path, theirs) in other.fields {
            let mine = fields[path] ?? [:]
            var result: [Dot: FieldEntry] = [:]
            for (dot, entry) in mine {
                if let their = theirs[dot] {
                    result[dot] = Self.pick(entry, their)
                } else if !other.context.contains(dot) {
                    result[dot] = entry
                }
            }
            for (dot, entry) in theirs where mine[dot] == nil && !context.contains(dot) {
                result[dot] = entry
            }
            fields[path] = result.isEmpty ? nil : result
        }
        context.formUnion(other.context)
    }

    /// The join of two states, leaving both unchanged.
    public func merged(with other: RecordState) throws -> RecordState {
        var copy = self
        try copy.merge(other)
        return copy
    }

    /// A well-formed replica never writes two different values under one dot; should hostile or
    /// corrupt input do so, both sides still pick the same one, which keeps the join commutative.
    private static func pick(_ a: FieldEntry, _ b: FieldEntry) -> FieldEntry {
        if a == b { return a }
        let ea = RecordState.entryJSON(a, dot: nil).canonicalBytes
        let eb = RecordState.entryJSON(b, dot: nil).canonicalBytes
        return ea.lexicographicallyPrecedes(eb) ? b : a
    }

    // MARK: - Writes

    /// The next dot `replica` uses on this record.
    public func nextDot(for replica: ReplicaID) -> Dot {
        Dot(unchecked: replica, context.maxCounter(of: replica) + 1)
    }

    /// Writes `value` to `path` (or removes the field when `value` is `nil`), superseding exactly
    /// the values this replica has seen there, and returns the delta of the write.
    @discardableResult
    public mutating func write(_ path: FieldPath, _ value: JSONValue?, stamp: EditStamp) -> RecordState {
        var delta = RecordState(id: id, type: type, zone: zone)
        for dot in (fields[path] ?? [:]).keys { delta.context.insert(dot) }
        if let value {
            let dot = nextDot(for: stamp.author.replica)
            delta.context.insert(dot)
            delta.fields[path] = [dot: FieldEntry(value: value, time: stamp.time, author: stamp.author.name)]
        } else if delta.context.isEmpty {
            return delta
        }
        // Joining the delta into self cannot fail: same record, and it is the state's own write.
        try! merge(delta)
        return delta
    }

    /// Adds a set member at `path` beside the entries other replicas hold there (an add-wins
    /// attach): the new entry supersedes only this replica's own, so the attach never removes a
    /// colleague's evidence, and repeated attaches by one device do not pile up entries.
    @discardableResult
    public mutating func add(_ path: FieldPath, _ value: JSONValue, stamp: EditStamp) -> RecordState {
        var delta = RecordState(id: id, type: type, zone: zone)
        for dot in (fields[path] ?? [:]).keys where dot.replica == stamp.author.replica { delta.context.insert(dot) }
        let dot = nextDot(for: stamp.author.replica)
        delta.context.insert(dot)
        delta.fields[path] = [dot: FieldEntry(value: value, time: stamp.time, author: stamp.author.name)]
        // Joining the delta into self cannot fail: same record, and it is the state's own write.
        try! merge(delta)
        return delta
    }

    /// Removes every field at or below `prefix`; returns the delta.
    @discardableResult
    public mutating func remove(under prefix: FieldPath, stamp: EditStamp) -> RecordState {
        var delta = RecordState(id: id, type: type, zone: zone)
        for path in fields.keys where path.hasPrefix(prefix) {
            try! delta.merge(write(path, nil, stamp: stamp))
        }
        return delta
    }
}

extension RecordState {
    /// What identifies this delta as one edit, for refusals kept and reported: the dots it writes,
    /// sorted — or, for a removal, which writes none, the dots it removes (the newest dot of each
    /// replica its context covers, and its cloud), with `removal` set. At most `limit` dots.
    public func editDots(limit: Int = 64) -> (dots: [Dot], removal: Bool) {
        var written = Set<Dot>()
        for register in fields.values { written.formUnion(register.keys) }
        if !written.isEmpty { return (Array(written.sorted().prefix(limit)), false) }
        var removed = context.cloud
        for (replica, counter) in context.vector.counters { removed.insert(Dot(unchecked: replica, counter)) }
        return (Array(removed.sorted().prefix(limit)), !removed.isEmpty)
    }
}
