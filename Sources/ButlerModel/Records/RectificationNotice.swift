import Foundation

/// A rectification notice (问题整改通知单) raised from a defect to a responsible party, with a
/// deadline; its photos are the evidence used to fine a contractor who misses it (001 §4.3.1.1).
public struct RectificationNotice: Hashable, Sendable {
    public let id: String
    public let item: String?
    public let party: ResponsibleParty?
    public let description: String?
    public let deadline: Date?
    public let issuedAt: Date?
    public let status: NoticeStatus

    /// Whether the deadline has passed while the notice is still open.
    public func isOverdue(now: Date) -> Bool {
        guard let deadline, status == .open else { return false }
        return now > deadline
    }

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = ["id": .string(id), "status": .string(status.rawValue)]
        if let item { o["item"] = .string(item) }
        if let party { o["party"] = .string(party.rawValue) }
        if let description { o["description"] = .string(description) }
        if let deadline { o["deadline"] = deadline.wire }
        if let issuedAt { o["issuedAt"] = issuedAt.wire }
        return .object(o)
    }
}
