/// The exact bytes each change of a pull page arrived as, in the order of ``PullResponse/changes``.
///
/// A server serves its stored canonical encodings as they are, so a device that did not hold a
/// record can store those bytes instead of encoding the decoded state again; it still decodes
/// them first (every check a pulled state gets) and compares them with the canonical form it
/// would have written (``RecordState/isCanonicalEncoding(_:)``). Only
/// ``JSONParser/parsePullResponse(_:limits:)`` fills it.
///
/// Not part of a page's value: two pages holding the same changes are equal however their bytes
/// were laid out, so `==` and hashing ignore this.
public struct ReceivedEncodings: Hashable, Sendable {
    /// One slice of the page's body per decoded change; empty when the page was built in memory.
    public let slices: [ArraySlice<UInt8>]

    public init(_ slices: [ArraySlice<UInt8>] = []) { self.slices = slices }

    /// The bytes change `index` arrived as, or `nil` when the page was not read from the wire.
    public subscript(index: Int) -> ArraySlice<UInt8>? { slices.indices.contains(index) ? slices[index] : nil }

    public static func == (lhs: Self, rhs: Self) -> Bool { true }
    public func hash(into hasher: inout Hasher) {}
}
