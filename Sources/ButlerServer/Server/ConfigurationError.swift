import ButlerModel

/// A server setting that cannot be used: a flag, an environment variable or the database URL.
/// Reported before the server starts, with the setting's name in the message.
public typealias ConfigurationError = LayerError<ConfigurationLayer>

/// The server configuration's errors (``ConfigurationError``).
public enum ConfigurationLayer: ErrorLayer {}

extension ConfigurationError {
    /// An `invalid-configuration` error.
    public init(_ message: String) { self.init(.invalidConfiguration, message) }
}
