import ButlerFiles
import ButlerModel
import Foundation
import GRDB
import Hummingbird
import Logging
import NIOHTTP1

/// Turns every error into a JSON `{"code","message"}` reply: Hummingbird's own errors (unknown
/// route, body too large) keep their status with a stable code; a database that cannot be reached
/// now is a 503 `storage-unavailable`; a request cut before its body ended (lost coverage mid-push
/// or mid-upload) or not valid HTTP is the sender's doing, a 400 `bad-request` logged as a notice;
/// anything unexpected is logged and answered as a bare 500 `internal`, never with its details.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            throw APIError(error.status, Self.code(for: error.status), error.body ?? error.status.reasonPhrase)
        } catch let error as any HTTPResponseError {
            throw APIError(error.status, Self.code(for: error.status), error.status.reasonPhrase)
        } catch let error where Self.isDiskFull(error) {
            context.logger.error("storage full", metadata: ["path": "\(request.uri.path)"])
            throw APIError(HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"), .storageFull, "the server's storage is full; nothing of this request was kept, try again later")
        } catch let error where PostgresStorage.isUnavailable(error) {
            context.logger.warning("storage unavailable", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            throw APIError(.serviceUnavailable, .storageUnavailable, "the database does not answer now; try again (a push is safe to send again)")
        } catch let error as HTTPParserError {
            // The connection is usually gone already; the reply is for a sender that is still there.
            context.logger.notice("request cut or malformed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            throw APIError(.badRequest, .badRequest, "the request ended before its body did, or was not valid HTTP; send it again")
        } catch is CancellationError {
            throw APIError(.serviceUnavailable, .shuttingDown, "the server is shutting down; try again")
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            throw APIError.internalError()
        }
    }

    /// A full disk, from SQLite (`SQLITE_FULL`) or from the file system (``FileError/isDiskFull(_:)``).
    static func isDiskFull(_ error: any Error) -> Bool {
        if let db = error as? DatabaseError { return db.resultCode == .SQLITE_FULL }
        return FileError.isDiskFull(error)
    }

    static func code(for status: HTTPResponse.Status) -> ErrorCode {
        switch status.code {
        case 400: .badRequest
        case 401: .unauthorized
        case 404: .notFound
        case 405: .methodNotAllowed
        case 413: .bodyTooLarge
        case 416: .rangeNotSatisfiable
        default: .http(status.code)
        }
    }
}
