import ButlerModel
import Foundation

/// `butler-server check` and `butler-server audit verify`: read everything the server stores and
/// report what does not hold. Never repairs: a person decides what to do with a damaged record.
public enum StoreCheck {
    /// One thing found wrong.
    public struct Problem: Hashable, Sendable {
        /// The record id, or `audit` for the log itself.
        public let subject: String
        public let code: ErrorCode
        public let message: String

        public var jsonValue: JSONValue { ["subject": .string(subject), "code": .string(code.rawValue), "message": .string(message)] }
    }

    /// What a verification of the audit log found.
    public struct AuditReport: Hashable, Sendable {
        public let entries: Int64
        /// The newest entry's hash: record it elsewhere to detect a log cut short later.
        public let head: String
        public let problem: Problem?

        public var jsonValue: JSONValue {
            ["entries": .int(entries), "head": .string(head), "ok": .bool(problem == nil), "problem": problem?.jsonValue ?? .null]
        }
    }

    static let page = 500

    /// Walks the whole log in order and checks every link of the hash chain.
    public static func verifyAudit(_ storage: any SyncStorage) async throws -> AuditReport {
        var previous: AuditEntry?
        var count: Int64 = 0
        while true {
            let entries = try await storage.auditEntries(after: previous?.seq ?? 0, record: nil, limit: page)
            if entries.isEmpty { break }
            for entry in entries {
                if let message = entry.problem(after: previous) {
                    return AuditReport(entries: count, head: previous?.hash ?? AuditEntry.genesis, problem: Problem(subject: "audit", code: .auditBroken, message: message))
                }
                previous = entry
                count += 1
            }
        }
        return AuditReport(entries: count, head: previous?.hash ?? AuditEntry.genesis, problem: nil)
    }

    /// Every audit entry of one record, oldest first.
    public static func auditTrail(_ storage: any SyncStorage, record: RecordID) async throws -> [AuditEntry] {
        var all: [AuditEntry] = []
        while true {
            let entries = try await storage.auditEntries(after: all.last?.seq ?? 0, record: record, limit: page)
            if entries.isEmpty { return all }
            all += entries
        }
    }

    /// Checks every stored record: it decodes, is in canonical form, matches its columns, keeps the
    /// identity rules and the record limits, holds only values its schema allows, and equals the
    /// join of the deltas the audit log holds for it. Returns the records checked and the problems.
    public static func checkRecords(_ storage: any SyncStorage) async throws -> (checked: Int, problems: [Problem]) {
        var problems: [Problem] = []
        var checked = 0
        var after: String?
        while true {
            let rows = try await storage.storedRecords(after: after, limit: page)
            if rows.isEmpty { break }
            for row in rows {
                checked += 1
                if let problem = try await check(row, storage) { problems.append(problem) }
            }
            after = rows.last?.id
        }
        return (checked, problems)
    }

    static func check(_ row: StoredRecord, _ storage: any SyncStorage) async throws -> Problem? {
        func problem(_ code: ErrorCode, _ message: String) -> Problem { Problem(subject: row.id, code: code, message: message) }
        let state: RecordState
        do { state = try JSONParser.parseRecordState(row.state) } catch let error as ModelError {
            return problem(.unreadable, "the stored state does not decode: \(error.message)")
        }
        if state.canonicalJSON != row.state { return problem(.notCanonical, "the stored bytes are not the state's canonical JSON") }
        if state.id.rawValue != row.id || state.type.rawValue != row.type || state.zone.rawValue != row.zone {
            return problem(.columnMismatch, "the row says \(row.type) \(row.id) in \(row.zone), the state says \(state.type.rawValue) \(state.id) in \(state.zone)")
        }
        do {
            try RecordIdentity.check(id: state.id, type: state.type, zone: state.zone)
            try RecordLimits.check(state)
            try FieldSchema.of(state.type).validate(state)
        } catch let error as ModelError {
            return problem(error.code, error.message)
        }
        var replayed = RecordState(id: state.id, type: state.type, zone: state.zone)
        for entry in try await auditTrail(storage, record: state.id) {
            guard let delta = try? JSONParser.parseRecordState(entry.delta), (try? replayed.merge(delta)) != nil else {
                return problem(.auditUnreadable, "audit entry \(entry.seq) of this record does not decode or merge")
            }
        }
        if replayed != state {
            return problem(
                .auditMismatch,
                "the stored state is not the join of the \(state.id) deltas in the audit log (changed outside the server, or stored before the audit log existed); content hash \(state.contentHash), replayed \(replayed.contentHash)")
        }
        return nil
    }
}
