/// An error from the model: a stable machine-readable ``code``, a human ``message`` and an optional cause.
///
/// The code travels on the wire (`{ "code": "...", "message": "..." }`) and is decoded back into the
/// same value by clients, so codes are never renamed; new ones may be added at any time, which is why
/// ``Code`` is an opaque struct rather than an enum.
public struct ModelError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable, machine-readable error code in kebab-case.
    public struct Code: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { self.rawValue = value }
        public var description: String { rawValue }

        /// The bytes are not valid JSON, or JSON of a shape the model does not accept.
        public static let invalidJSON: Code = "invalid-json"
        /// A value (id, dot, field, path, counter…) is out of range or badly formed.
        public static let invalidValue: Code = "invalid-value"
        /// Two states of different records (id, type or zone differ) were asked to merge.
        public static let recordMismatch: Code = "record-mismatch"
        /// A field path that the record type does not define, or a value of the wrong shape for it.
        public static let invalidField: Code = "invalid-field"
        /// The form is submitted (or later): content edits are refused until it is reopened.
        public static let formSubmitted: Code = "form-submitted"
        /// A status change that the monotone order does not allow from the current status.
        public static let invalidTransition: Code = "invalid-transition"
        /// No template with that id.
        public static let unknownTemplate: Code = "unknown-template"
        /// The template has no checklist item with that key.
        public static let unknownItem: Code = "unknown-item"
        /// The record does not exist or is of another type.
        public static let unknownRecord: Code = "unknown-record"
        /// The peer speaks another protocol version.
        public static let protocolVersion: Code = "protocol-version"
        /// A conformance vector or template file could not be read.
        public static let unreadable: Code = "unreadable"

        // Refusals of a pushed delta whose claims do not hold (see ``DeltaAdmission``). Final: the
        // same delta will be refused again.

        /// A new dot minted under a replica id that is not the pushing device's.
        public static let foreignDot: Code = "foreign-dot"
        /// A causal context (or a status's `seen`) claiming dots the record does not hold.
        public static let unknownDots: Code = "unknown-dots"
        /// A dot the record already holds, carrying a different value.
        public static let dotReused: Code = "dot-reused"
        /// A replica's counter jumping far beyond what the record holds of it.
        public static let counterJump: Code = "counter-jump"
        /// An edit whose effect (what it adds or removes) the device's role does not allow.
        public static let roleForbidden: Code = "role-forbidden"
        /// An edit after which the record would exceed ``RecordLimits``.
        public static let recordTooLarge: Code = "record-too-large"
        /// The server holds a record it cannot decode (damaged before these checks existed, or by
        /// hand); edits to it are refused until an operator repairs it (`butler-server check`).
        public static let storedRecordUnreadable: Code = "stored-record-unreadable"
    }

    public var code: Code
    public var message: String
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { "\(code): \(message)" }

    public static func == (lhs: ModelError, rhs: ModelError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }
}
