/// The set of dots a state has seen: a version vector plus the dots seen beyond it (the "cloud").
///
/// The cloud is what lets a context hold gaps: when a delta with dot `A:3` arrives before the one
/// with `A:2`, the context records `A:3` alone, so `A:2` still looks unseen when it comes and is
/// kept. ``compact()`` folds cloud dots into the vector as soon as the gap closes.
public struct CausalContext: Hashable, Sendable, CustomStringConvertible {
    public private(set) var vector: VersionVector
    public private(set) var cloud: Set<Dot>

    public init(vector: VersionVector = VersionVector(), cloud: Set<Dot> = []) {
        self.vector = vector
        self.cloud = cloud
        compact()
    }

    public var isEmpty: Bool { vector.isEmpty && cloud.isEmpty }

    public func contains(_ dot: Dot) -> Bool {
        vector.contains(dot) || cloud.contains(dot)
    }

    /// Records `dot` as seen.
    public mutating func insert(_ dot: Dot) {
        guard !contains(dot) else { return }
        if dot.counter == vector[dot.replica] + 1 {
            vector[dot.replica] = dot.counter
            if !cloud.isEmpty { compact() }
        } else {
            cloud.insert(dot)
        }
    }

    /// Everything either side has seen.
    public mutating func formUnion(_ other: CausalContext) {
        vector.formUnion(other.vector)
        if cloud.isEmpty && other.cloud.isEmpty { return }
        cloud.formUnion(other.cloud)
        compact()
    }

    /// The highest counter of `replica` seen, counting the cloud.
    public func maxCounter(of replica: ReplicaID) -> UInt64 {
        var highest = vector[replica]
        for dot in cloud where dot.replica == replica && dot.counter > highest { highest = dot.counter }
        return highest
    }

    /// All replicas this context mentions.
    public var replicas: Set<ReplicaID> {
        Set(vector.counters.keys).union(cloud.map(\.replica))
    }

    /// The smallest version vector that covers this context (cloud dots included).
    public var covering: VersionVector {
        var v = vector
        for dot in cloud where dot.counter > v[dot.replica] { v[dot.replica] = dot.counter }
        return v
    }

    /// Moves cloud dots that extend the vector into it and drops those it already covers.
    public mutating func compact() {
        guard !cloud.isEmpty else { return }
        var remaining: Set<Dot> = []
        for dot in cloud.sorted() {
            let top = vector[dot.replica]
            if dot.counter <= top { continue }
            if dot.counter == top + 1 { vector[dot.replica] = dot.counter } else { remaining.insert(dot) }
        }
        cloud = remaining
    }

    public var description: String {
        cloud.isEmpty ? vector.description : "\(vector.description)+{\(cloud.sorted().map(\.description).joined(separator: ","))}"
    }
}
