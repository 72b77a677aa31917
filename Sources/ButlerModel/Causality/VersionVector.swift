/// A version vector: for each replica, the highest counter such that all its dots up to it were seen.
public struct VersionVector: Hashable, Sendable, CustomStringConvertible {
    /// How two version vectors relate.
    public enum Ordering: String, Sendable {
        /// Both saw exactly the same events.
        case equal
        /// The left side saw a strict subset of what the right side saw.
        case before
        /// The left side saw a strict superset of what the right side saw.
        case after
        /// Each side saw something the other did not.
        case concurrent
    }

    public private(set) var counters: [ReplicaID: UInt64]

    public init(_ counters: [ReplicaID: UInt64] = [:]) {
        self.counters = counters.filter { $0.value > 0 }
    }

    public subscript(replica: ReplicaID) -> UInt64 {
        get { counters[replica] ?? 0 }
        set { counters[replica] = newValue == 0 ? nil : newValue }
    }

    public var isEmpty: Bool { counters.isEmpty }

    /// Whether every dot up to `dot` from its replica is covered.
    public func contains(_ dot: Dot) -> Bool { dot.counter <= self[dot.replica] }

    /// The pointwise maximum: everything either side has seen.
    public mutating func formUnion(_ other: VersionVector) {
        for (replica, counter) in other.counters where counter > self[replica] {
            counters[replica] = counter
        }
    }

    /// The four-way comparison of what the two sides have seen.
    public func compare(to other: VersionVector) -> Ordering {
        var less = false
        var greater = false
        for replica in Set(counters.keys).union(other.counters.keys) {
            let a = self[replica]
            let b = other[replica]
            if a < b { less = true }
            if a > b { greater = true }
            if less && greater { return .concurrent }
        }
        switch (less, greater) {
        case (false, false): return .equal
        case (true, false): return .before
        case (false, true): return .after
        case (true, true): return .concurrent
        }
    }

    public var description: String {
        "[" + counters.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",") + "]"
    }
}
