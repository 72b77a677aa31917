import ButlerModel

/// An error from the client library: a stable machine-readable code, a human message and an
/// optional cause. Codes from the server's `{"code","message"}` replies arrive unchanged.
public typealias ClientError = LayerError<ClientLayer>

/// The client library's errors (``ClientError``).
public enum ClientLayer: ErrorLayer {}

extension ClientError {
    /// The same code and message as an error of another layer: the model's (form-submitted,
    /// unknown-item, …) or the file helpers' (storage-full, file-error).
    public init(_ error: some CodedError) {
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
