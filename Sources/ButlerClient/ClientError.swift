import ButlerModel

/// An error from the client library: a stable machine-readable ``code``, a human ``message`` and
/// an optional cause. Codes from the server's `{"code","message"}` replies arrive unchanged.
public struct ClientError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { self.rawValue = value }
        public var description: String { rawValue }

        /// The server could not be reached (no coverage, DNS, refused, reset).
        public static let unreachable: Code = "unreachable"
        /// The server stopped answering in time, or the transfer stalled.
        public static let timeout: Code = "timeout"
        /// The token is unknown: initialise the device again.
        public static let unauthorized: Code = "unauthorized"
        /// The device was revoked: hand it in to the supervisor.
        public static let tokenRevoked: Code = "token-revoked"
        /// Client and server speak different protocol versions: update the client.
        public static let protocolVersion: Code = "protocol-version"
        /// The server failed (5xx); retrying later may help.
        public static let server: Code = "server-error"
        /// The server answered something this client cannot read.
        public static let badResponse: Code = "bad-response"
        /// The store has not been initialised (`butler init`).
        public static let notInitialized: Code = "not-initialized"
        /// The store is already initialised.
        public static let alreadyInitialized: Code = "already-initialized"
        /// No such record on this device.
        public static let unknownRecord: Code = "unknown-record"
        /// The device is not assigned the zone it tried to write to.
        public static let zoneNotAssigned: Code = "zone-not-assigned"
        /// A file could not be read or written.
        public static let file: Code = "file-error"
        /// The disk is full.
        public static let storageFull: Code = "storage-full"
        /// The local database failed.
        public static let database: Code = "database-error"
        /// The operation was cancelled.
        public static let cancelled: Code = "cancelled"
        /// An argument is invalid.
        public static let invalidArgument: Code = "invalid-argument"
        /// The device's role may not make this edit (the server's code for the same refusal).
        public static let roleForbidden: Code = "role-forbidden"
        /// No refused edit with that id in the outbox.
        public static let unknownEdit: Code = "unknown-edit"
        /// A sync ended with edits the server refused for good: a person must look at them
        /// (`butler refused list`).
        public static let editsRefused: Code = "edits-refused"
        /// A sync ended with edits the server held back for a reason that can clear (a clock
        /// ahead, a zone not yet known, a full disk): they are pushed again on the next sync.
        public static let editsHeld: Code = "edits-held"
    }

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
        self.init(Code(error.code.rawValue), error.message, cause: error)
    }

    /// Whether retrying later, unchanged, may succeed (no coverage, a timeout, a server fault).
    public var isTransient: Bool {
        [.unreachable, .timeout, .server, .editsHeld].contains(code)
    }

    public var description: String { "\(code): \(message)" }

    public static func == (lhs: ClientError, rhs: ClientError) -> Bool { lhs.code == rhs.code && lhs.message == rhs.message }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }
}

extension ClientError {
    /// Runs `body`, reporting a model error as the client error with the same code and message.
    public static func mapping<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as ModelError { throw ClientError(error) }
    }
}
