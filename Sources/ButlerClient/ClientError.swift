import ButlerModel

/// An error from the client library: a stable machine-readable ``code``, a human ``message`` and
/// an optional cause. Codes from the server's `{"code","message"}` replies arrive unchanged.
public struct ClientError: CodedError {
    /// The codes live in the one catalogue, ``ErrorCode``; the client's own are at its end.
    public typealias Code = ErrorCode

    public var code: Code
    public var message: String
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// The same code and message as a model error (form-submitted, unknown-item, …).
    public init(_ error: ModelError) {
        self.init(error.code, error.message, cause: error)
    }

    /// Whether retrying later, unchanged, may succeed (no coverage, a timeout, a server fault).
    public var isTransient: Bool {
        [.unreachable, .timeout, .serverError, .editsHeld].contains(code)
    }
}

extension ClientError {
    /// Runs `body`, reporting a model error as the client error with the same code and message.
    public static func mapping<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as ModelError { throw ClientError(error) }
    }
}
