/// The shape every ButlerSync error has: a stable machine-readable ``code`` from the one
/// ``ErrorCode`` catalogue, a human ``message`` and an optional cause.
///
/// ``ModelError`` and the client's and server's errors conform; equality, hashing and the
/// `code: message` description come from here, so they agree everywhere. Two errors are equal when
/// their codes and messages are (the cause is context, not identity).
public protocol CodedError: Error, Hashable, Sendable, CustomStringConvertible {
    var code: ErrorCode { get }
    var message: String { get }
    var cause: (any Error & Sendable)? { get }
}

extension CodedError {
    public var description: String { "\(code): \(message)" }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code && lhs.message == rhs.message }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }
}
