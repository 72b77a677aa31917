import ButlerClient
import ButlerModel
import Hummingbird

/// A refusal shown as a page: its HTTP status, a heading and a message for the butler.
struct PageError: Error {
    let status: HTTPResponse.Status
    let title: String
    let message: String

    init(_ status: HTTPResponse.Status, _ title: String, _ message: String) {
        self.status = status
        self.title = title
        self.message = message
    }

    /// A store or model error as a page: the error's own message, under a status that says whose
    /// fault it was (an unknown record is a 404, bad input a 400, an edit of a locked form a 409).
    init(_ error: ClientError) {
        switch error.code {
        case .unknownRecord, .notFound:
            self.init(.notFound, "找不到记录", error.message)
        case .formSubmitted, .invalidTransition:
            self.init(.conflict, "不能修改", error.message)
        case .unknownTemplate, .unknownItem, .invalidArgument, .invalidValue, .zoneNotAssigned, .badRequest, .invalidField:
            self.init(.badRequest, "输入有误", error.message)
        case .storageFull:
            self.init(.init(code: 507), "存储空间已满", error.message)
        default:
            self.init(.internalServerError, "出错了", "\(error.code): \(error.message)")
        }
    }
}
