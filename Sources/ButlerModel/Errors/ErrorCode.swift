/// A stable, machine-readable error code in kebab-case: the one catalogue of every code the model,
/// the server and the client produce.
///
/// Codes travel on the wire (`{"code": "...", "message": "..."}`) and are decoded back into the
/// same value by clients; scripts match them in `--json` output. A code is therefore never renamed;
/// new ones may be added at any time, which is why this is an opaque struct rather than an enum
/// (like grpc-swift-2's `RPCError.Code`): a client keeps a code it does not know, unchanged.
///
/// Code produces codes only through the static members below, so a typo does not compile;
/// ``init(_:)`` is for codes read from a peer.
public struct ErrorCode: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// A code as read from a peer (a server reply, a stored refusal). Code that *produces* an error
    /// names one of the static members instead.
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }
}

// MARK: - The model: decoding, records and rules

extension ErrorCode {
    /// The bytes are not valid JSON, or JSON of a shape the model does not accept.
    public static let invalidJSON = ErrorCode("invalid-json")
    /// A value (id, dot, field, path, counter…) is out of range or badly formed.
    public static let invalidValue = ErrorCode("invalid-value")
    /// Two states of different records (id, type or zone differ) were asked to merge.
    public static let recordMismatch = ErrorCode("record-mismatch")
    /// A field path that the record type does not define, or a value of the wrong shape for it.
    public static let invalidField = ErrorCode("invalid-field")
    /// The form is submitted (or later): content edits are refused until it is reopened.
    public static let formSubmitted = ErrorCode("form-submitted")
    /// A status change that the monotone order does not allow from the current status.
    public static let invalidTransition = ErrorCode("invalid-transition")
    /// No template with that id.
    public static let unknownTemplate = ErrorCode("unknown-template")
    /// The template has no checklist item with that key.
    public static let unknownItem = ErrorCode("unknown-item")
    /// The record does not exist or is of another type.
    public static let unknownRecord = ErrorCode("unknown-record")
    /// The peer speaks another protocol version.
    public static let protocolVersion = ErrorCode("protocol-version")
    /// A conformance vector, template file or stored state could not be read.
    public static let unreadable = ErrorCode("unreadable")
}

// MARK: - Refusals of a pushed delta (per delta, in a push reply's results)

extension ErrorCode {
    // Final: the same delta will be refused again (see ``DeltaAdmission``).

    /// A new dot minted under a replica id that is not the pushing device's.
    public static let foreignDot = ErrorCode("foreign-dot")
    /// A causal context (or a status's `seen`) claiming dots the record does not hold.
    public static let unknownDots = ErrorCode("unknown-dots")
    /// A dot the record already holds, carrying a different value.
    public static let dotReused = ErrorCode("dot-reused")
    /// A replica's counter jumping far beyond what the record holds of it.
    public static let counterJump = ErrorCode("counter-jump")
    /// An edit whose effect (what it adds or removes) the device's role does not allow.
    public static let roleForbidden = ErrorCode("role-forbidden")
    /// An edit after which the record would exceed ``RecordLimits``.
    public static let recordTooLarge = ErrorCode("record-too-large")
    /// The server holds a record it cannot decode (damaged before these checks existed, or by
    /// hand); edits to it are refused until an operator repairs it (`butler-server check`).
    public static let storedRecordUnreadable = ErrorCode("stored-record-unreadable")

    // Transient: the same delta may be accepted later, once the cause is gone.

    /// The device is not (yet) assigned the record's zone.
    public static let zoneForbidden = ErrorCode("zone-forbidden")
    /// An edit stamped more than 7 days ahead of the server's clock.
    public static let clockAhead = ErrorCode("clock-ahead")
    /// The device's daily photo allowance (or its unreferenced-photo allowance) is used up.
    public static let quotaExceeded = ErrorCode("quota-exceeded")
    /// The disk is full (the server's, in a reply; the device's, locally).
    public static let storageFull = ErrorCode("storage-full")
}

// MARK: - Server replies (HTTP status + code)

extension ErrorCode {
    /// No valid bearer token.
    public static let unauthorized = ErrorCode("unauthorized")
    /// The device was revoked: hand it in to the supervisor.
    public static let tokenRevoked = ErrorCode("token-revoked")
    /// The server failed; the request was not applied.
    public static let `internal` = ErrorCode("internal")
    /// The store does not answer (health check, or a request that met the database down or
    /// restarting: 503, try again).
    public static let storageUnavailable = ErrorCode("storage-unavailable")
    /// The server is shutting down; try again.
    public static let shuttingDown = ErrorCode("shutting-down")
    /// A pull cursor this server did not hand out.
    public static let invalidCursor = ErrorCode("invalid-cursor")
    /// No such route or blob.
    public static let notFound = ErrorCode("not-found")
    /// The route exists, not with this method.
    public static let methodNotAllowed = ErrorCode("method-not-allowed")
    /// A request HTTP could not read.
    public static let badRequest = ErrorCode("bad-request")
    /// The request body is over the server's limit (for a gzip body: its inflated bytes are).
    public static let bodyTooLarge = ErrorCode("body-too-large")
    /// A request body in a `Content-Encoding` the route does not take (415): only `gzip`, and
    /// none on photo uploads. A client sends the body again unencoded.
    public static let unsupportedEncoding = ErrorCode("unsupported-encoding")
    /// A body that is not what its `Content-Encoding` says (a corrupt or cut-short gzip stream).
    public static let invalidEncoding = ErrorCode("invalid-encoding")
    /// A `Range` the blob cannot satisfy.
    public static let rangeNotSatisfiable = ErrorCode("range-not-satisfiable")
    /// A photo over the server's size limit.
    public static let blobTooLarge = ErrorCode("blob-too-large")
    /// A resumed upload announcing another length than it started with.
    public static let lengthMismatch = ErrorCode("length-mismatch")
    /// A chunk that does not start where the server's copy ends.
    public static let offsetMismatch = ErrorCode("offset-mismatch")
    /// Another upload of the same blob is writing right now.
    public static let uploadInProgress = ErrorCode("upload-in-progress")
    /// A chunk running past the announced length.
    public static let chunkTooLarge = ErrorCode("chunk-too-large")
    /// The uploaded bytes do not hash to the blob's name.
    public static let hashMismatch = ErrorCode("hash-mismatch")

    /// An HTTP status with no code of its own: `http-NNN`.
    public static func http(_ status: Int) -> ErrorCode { ErrorCode("http-\(status)") }
}

// MARK: - Server configuration

extension ErrorCode {
    /// A flag, environment variable or database URL the server cannot use.
    public static let invalidConfiguration = ErrorCode("invalid-configuration")
}

// MARK: - `butler-server check` findings

extension ErrorCode {
    /// A link of the audit log's hash chain does not hold.
    public static let auditBroken = ErrorCode("audit-broken")
    /// A stored state is not in canonical form.
    public static let notCanonical = ErrorCode("not-canonical")
    /// A record's columns (type, zone, content hash…) disagree with its state.
    public static let columnMismatch = ErrorCode("column-mismatch")
    /// A record's audit trail cannot be read.
    public static let auditUnreadable = ErrorCode("audit-unreadable")
    /// A record is not the join of its audited deltas.
    public static let auditMismatch = ErrorCode("audit-mismatch")
}

// MARK: - The client

extension ErrorCode {
    /// The server could not be reached (no coverage, DNS, refused, reset).
    public static let unreachable = ErrorCode("unreachable")
    /// The server stopped answering in time, or the transfer stalled.
    public static let timeout = ErrorCode("timeout")
    /// The server failed (5xx); retrying later may help.
    public static let serverError = ErrorCode("server-error")
    /// The server answered something this client cannot read.
    public static let badResponse = ErrorCode("bad-response")
    /// The store has not been initialised (`butler init`).
    public static let notInitialized = ErrorCode("not-initialized")
    /// The store is already initialised.
    public static let alreadyInitialized = ErrorCode("already-initialized")
    /// The device is not assigned the zone it tried to write to.
    public static let zoneNotAssigned = ErrorCode("zone-not-assigned")
    /// A file could not be read or written.
    public static let file = ErrorCode("file-error")
    /// The local database failed.
    public static let database = ErrorCode("database-error")
    /// The operation was cancelled.
    public static let cancelled = ErrorCode("cancelled")
    /// An argument is invalid.
    public static let invalidArgument = ErrorCode("invalid-argument")
    /// No refused edit with that id in the outbox.
    public static let unknownEdit = ErrorCode("unknown-edit")
    /// A sync ended with edits the server refused for good: a person must look at them
    /// (`butler refused list`).
    public static let editsRefused = ErrorCode("edits-refused")
    /// A sync ended with edits the server held back for a reason that can clear (a clock ahead, a
    /// zone not yet known, a full disk): they are pushed again on the next sync.
    public static let editsHeld = ErrorCode("edits-held")
    /// A push result refused without a code (an older server): final.
    public static let refused = ErrorCode("refused")
    /// The store is encrypted and no device key was given.
    public static let keyRequired = ErrorCode("key-required")
    /// The device key given is not this store's.
    public static let wrongKey = ErrorCode("wrong-key")
    /// A device key was given for a store that already holds plaintext records.
    public static let storeNotEncrypted = ErrorCode("store-not-encrypted")
}

extension ErrorCode {
    /// The refusal codes whose cause can clear (a fast clock, a zone not yet assigned, a full
    /// store or quota): a device holds such an edit and sends it again; any other refusal is final.
    public static let held: Set<ErrorCode> = [.clockAhead, .zoneForbidden, .storageFull, .quotaExceeded]

    /// The codes a server reply (an error body, or a refused delta's result) may carry, besides
    /// ``http(_:)``'s: what `Protocol/openapi.yaml` documents.
    public static let wire: [ErrorCode] = [
        .invalidJSON, .invalidValue, .recordMismatch, .invalidField, .unknownRecord, .protocolVersion,
        .foreignDot, .unknownDots, .dotReused, .counterJump, .roleForbidden, .recordTooLarge, .storedRecordUnreadable,
        .zoneForbidden, .clockAhead, .quotaExceeded, .storageFull,
        .unauthorized, .tokenRevoked, .internal, .storageUnavailable, .shuttingDown, .invalidCursor, .notFound,
        .methodNotAllowed, .badRequest, .bodyTooLarge, .rangeNotSatisfiable, .blobTooLarge, .lengthMismatch, .offsetMismatch,
        .uploadInProgress, .chunkTooLarge, .hashMismatch, .unsupportedEncoding, .invalidEncoding,
    ]

    /// The findings of `butler-server check` and `audit verify` (`--json`'s `code`).
    public static let findings: [ErrorCode] = [.unreadable, .auditBroken, .notCanonical, .columnMismatch, .auditUnreadable, .auditMismatch]

    /// Every code above, for tests that check the catalogue (unique, kebab-case, documented).
    public static let catalogue: [ErrorCode] = [
        .invalidJSON, .invalidValue, .recordMismatch, .invalidField, .formSubmitted, .invalidTransition, .unknownTemplate,
        .unknownItem, .unknownRecord, .protocolVersion, .unreadable,
        .foreignDot, .unknownDots, .dotReused, .counterJump, .roleForbidden, .recordTooLarge, .storedRecordUnreadable,
        .zoneForbidden, .clockAhead, .quotaExceeded, .storageFull,
        .unauthorized, .tokenRevoked, .internal, .storageUnavailable, .shuttingDown, .invalidCursor, .notFound,
        .methodNotAllowed, .badRequest, .bodyTooLarge, .rangeNotSatisfiable, .blobTooLarge, .lengthMismatch, .offsetMismatch,
        .uploadInProgress, .chunkTooLarge, .hashMismatch, .unsupportedEncoding, .invalidEncoding,
        .invalidConfiguration,
        .auditBroken, .notCanonical, .columnMismatch, .auditUnreadable, .auditMismatch,
        .unreachable, .timeout, .serverError, .badResponse, .notInitialized, .alreadyInitialized, .zoneNotAssigned, .file,
        .database, .cancelled, .invalidArgument, .unknownEdit, .editsRefused, .editsHeld, .keyRequired, .wrongKey,
        .storeNotEncrypted, .refused,
    ]
}
