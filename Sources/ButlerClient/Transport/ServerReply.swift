import ButlerModel

/// A butler-server's HTTP reply — a status and the body bytes — read into what a
/// ``SyncTransport`` returns.
///
/// Every transport reads replies here, whatever carried the bytes: ``CurlTransport`` over a
/// socket, and the tests' in-process transport through the server's router in memory. So a
/// status and a `{"code","message"}` body become the same ``ClientError`` on every path, and a
/// test that runs without sockets sees exactly the errors a handheld sees.
public struct ServerReply: Sendable {
    /// The HTTP status code.
    public var status: Int
    /// The body bytes (empty for a blob download written to a file).
    public var body: [UInt8]

    public init(status: Int, body: [UInt8]) {
        self.status = status
        self.body = body
    }

    /// Whether the status is 2xx.
    public var isSuccess: Bool { (200..<300).contains(status) }

    /// The client error for this reply, keeping the server's code: 401 is `unauthorized` or
    /// `token-revoked`, 426 `protocol-version`, 5xx `server-error` (transient); any other status
    /// keeps the body's `code` (or `http-<status>` when the body has none).
    public var error: ClientError {
        let wire = (try? JSONParser.parse(body)).flatMap { try? WireError(json: $0) }
        let message = wire?.message ?? "HTTP \(status)"
        switch status {
        case 401:
            return ClientError(wire?.code == .tokenRevoked ? .tokenRevoked : .unauthorized, message)
        case 426:
            return ClientError(.protocolVersion, message)
        case 500...:
            return ClientError(.serverError, "the server failed (HTTP \(status)): \(message)")
        default:
            return ClientError(wire?.code ?? .http(status), message)
        }
    }

    /// The JSON body of a 2xx reply; the mapped ``error`` otherwise.
    public func json() throws -> JSONValue {
        guard isSuccess else { throw error }
        do { return try JSONParser.parse(body) } catch {
            throw ClientError(.badResponse, "the server's reply is not valid JSON: \(error)")
        }
    }

    /// A pull page from a 2xx reply; the mapped ``error`` otherwise.
    public func pullPage() throws -> PullResponse {
        guard isSuccess else { throw error }
        do { return try JSONParser.parsePullResponse(body) } catch {
            throw ClientError(.badResponse, "the server's pull page is not valid: \(error)")
        }
    }

    /// The state of record `id` from a 2xx reply; `nil` for a 404 `unknown-record` (the server
    /// does not hold it); the mapped ``error`` otherwise.
    public func record(_ id: RecordID) throws -> RecordState? {
        if status == 404 {
            let wire = (try? JSONParser.parse(body)).flatMap { try? WireError(json: $0) }
            if wire?.code == .unknownRecord { return nil }
        }
        guard isSuccess else { throw error }
        do { return try JSONParser.parseRecordState(body) } catch {
            throw ClientError(.badResponse, "the server's state of record \(id) is not valid: \(error)")
        }
    }

    /// Checks the reply to a blob download from `offset`: 200, or 206 for a ranged request. A 200
    /// to a ranged request means the server ignored the range: appending it would corrupt the file.
    public func checkDownload(sha256: String, from offset: Int64) throws {
        if status == 200, offset > 0 {
            throw ClientError(.badResponse, "the server ignored the Range request for \(sha256)")
        }
        guard status == 200 || status == 206 else { throw error }
    }
}
