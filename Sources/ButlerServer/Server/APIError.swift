import ButlerModel
import Foundation
import Hummingbird

/// An error reply: an HTTP status, a stable code and a human message, rendered as
/// `{"code": "...", "message": "..."}`. Nothing internal (SQL, stack traces, paths) goes in it.
public struct APIError: HTTPResponseError, CodedError {
    public let status: HTTPResponse.Status
    public let code: ErrorCode
    public let message: String
    public var cause: (any Error & Sendable)? { nil }

    public init(_ status: HTTPResponse.Status, _ code: ErrorCode, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public static func == (lhs: APIError, rhs: APIError) -> Bool { lhs.status == rhs.status && lhs.code == rhs.code && lhs.message == rhs.message }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = Response.json(WireError(code: code, message: message).jsonValue, status: status)
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
        return response
    }

    public static func unauthorized(_ message: String) -> APIError { APIError(.unauthorized, .unauthorized, message) }
    public static func invalid(_ error: ModelError) -> APIError { APIError(.badRequest, error.code, error.message) }
    public static func internalError() -> APIError {
        APIError(.internalServerError, .`internal`, "the server failed; the request was not applied, try again later")
    }
}

extension Response {
    /// A JSON reply in canonical encoding.
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        let bytes = value.canonicalBytes
        return Response(
            status: status,
            headers: [.contentType: "application/json", .contentLength: String(bytes.count)],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
