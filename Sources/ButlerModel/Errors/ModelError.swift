/// An error from the model: a stable machine-readable ``code``, a human ``message`` and an optional cause.
///
/// The code travels on the wire (`{ "code": "...", "message": "..." }`) and is decoded back into the
/// same value by clients, so codes are never renamed; new ones may be added at any time, which is why
/// ``ErrorCode`` is an opaque struct rather than an enum.
public struct ModelError: CodedError {
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
