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

/// Names the layer an error comes from, so each layer's errors are a type of their own that a
/// `catch` can tell apart, while sharing one implementation (``LayerError``).
public protocol ErrorLayer {}

/// The one implementation of the error shape: ``ModelError``, the client's `ClientError` and
/// `ButlerFiles`' `FileError` are this struct for their layer.
public struct LayerError<Layer: ErrorLayer>: CodedError {
    /// The codes live in the one catalogue, ``ErrorCode``.
    public typealias Code = ErrorCode

    public var code: Code
    public var message: String
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }
}
