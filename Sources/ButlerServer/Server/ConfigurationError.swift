import ButlerModel

/// A server setting that cannot be used: a flag, an environment variable or the database URL.
/// Reported before the server starts, with the setting's name in the message.
public struct ConfigurationError: CodedError {
    public let code: ErrorCode
    public let message: String
    public var cause: (any Error & Sendable)? { nil }

    public init(_ message: String) {
        self.code = .invalidConfiguration
        self.message = message
    }
}
