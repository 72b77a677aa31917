/// One event: the `counter`-th edit that `replica` made to one record.
///
/// Counters are per record and per replica, starting at 1, so a record's causal context stays a
/// compact version vector once every dot has arrived.
public struct Dot: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The largest counter accepted: 2⁵³ − 1, so counters are exact in every JSON implementation.
    public static let maxCounter: UInt64 = (1 << 53) - 1

    public let replica: ReplicaID
    public let counter: UInt64

    public init(_ replica: ReplicaID, _ counter: UInt64) throws {
        guard counter >= 1, counter <= Dot.maxCounter else {
            throw ModelError(.invalidValue, "dot counter must be 1…\(Dot.maxCounter), got \(counter)")
        }
        self.replica = replica
        self.counter = counter
    }

    init(unchecked replica: ReplicaID, _ counter: UInt64) {
        self.replica = replica
        self.counter = counter
    }

    public static func < (lhs: Dot, rhs: Dot) -> Bool {
        lhs.replica == rhs.replica ? lhs.counter < rhs.counter : lhs.replica < rhs.replica
    }

    public var description: String { "\(replica.rawValue):\(counter)" }
}

extension Dot {
    /// Parses ``description`` (`replica:counter`); nil when it is not one.
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let counter = UInt64(text[text.index(after: colon)...]),
            let replica = try? ReplicaID(String(text[..<colon])), let dot = try? Dot(replica, counter)
        else { return nil }
        self = dot
    }
}
