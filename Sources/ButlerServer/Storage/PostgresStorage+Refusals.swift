import ButlerModel
import Foundation
import Logging
import PostgresNIO

/// The pending refusals on PostgreSQL (``RefusalLog``): written in the merge transaction, which
/// holds the feed lock, so two pushes of one device never plan over the same rows at once.
extension PostgresStorage {
    static func migrateRefusals(_ tx: PostgresConnection, logger: Logger) async throws {
        try await tx.query("""
            CREATE TABLE IF NOT EXISTS refusals (
                id BIGSERIAL PRIMARY KEY, device TEXT NOT NULL, record TEXT NOT NULL, zone TEXT NOT NULL, code TEXT NOT NULL,
                message TEXT NOT NULL, dots TEXT NOT NULL, removal BOOLEAN NOT NULL, first_at TEXT NOT NULL, last_at TEXT NOT NULL, times BIGINT NOT NULL)
            """, logger: logger)
        try await tx.query("CREATE INDEX IF NOT EXISTS refusals_device ON refusals(device)", logger: logger)
    }

    static func openRefusals(_ tx: PostgresConnection, device: String, logger: Logger) async throws -> [RefusalLog.Open] {
        let rows = try await tx.query("SELECT id, record, code, dots, removal FROM refusals WHERE device = \(device) ORDER BY id", logger: logger)
        var open: [RefusalLog.Open] = []
        for try await (id, record, code, dots, removal) in rows.decode((Int64, String, String, String, Bool).self) {
            open.append(RefusalLog.Open(id: id, record: record, code: code, dotsText: dots, removal: removal))
        }
        return open
    }

    static func keepRefusals(_ tx: PostgresConnection, _ plan: RefusalLog.Plan, device: String, at now: Date, logger: Logger) async throws {
        guard !plan.isEmpty else { return }
        let at = Timestamp.format(now)
        let resolved = plan.resolved.keys.sorted()
        if !resolved.isEmpty {
            try await tx.query("DELETE FROM refusals WHERE id = ANY(\(resolved))", logger: logger)
        }
        for (id, again) in plan.repeats.sorted(by: { $0.key < $1.key }) {
            try await tx.query(
                "UPDATE refusals SET times = times + \(Int64(again.times)), last_at = \(at), code = \(again.code.rawValue), message = \(again.message) WHERE id = \(id)",
                logger: logger)
        }
        if !plan.inserts.isEmpty {
            let drafts = plan.inserts.map(\.draft)
            try await tx.query(
                """
                INSERT INTO refusals (device, record, zone, code, message, dots, removal, first_at, last_at, times)
                SELECT \(device), u.record, u.zone, u.code, u.message, u.dots, u.removal, \(at), \(at), u.times
                FROM UNNEST(\(drafts.map { $0.record ?? "" })::text[], \(drafts.map { $0.zone ?? "" })::text[], \(drafts.map(\.code.rawValue))::text[],
                    \(drafts.map(\.message))::text[], \(drafts.map { RefusalLog.dotsText($0.dots) })::text[], \(drafts.map(\.removal))::boolean[],
                    \(plan.inserts.map { Int64($0.times) })::bigint[]) WITH ORDINALITY AS u(record, zone, code, message, dots, removal, times, ord)
                ORDER BY u.ord
                """, logger: logger)
        }
    }

    public func pendingRefusals() async throws -> [PendingRefusal] {
        let rows = try await client.query(
            "SELECT id, device, record, zone, code, message, dots, removal, first_at, last_at, times FROM refusals ORDER BY device, id", logger: logger)
        var pending: [PendingRefusal] = []
        for try await row in rows.decode((Int64, String, String, String, String, String, String, Bool, String, String, Int64).self) {
            pending.append(PendingRefusal(
                id: row.0, device: row.1, record: row.2.isEmpty ? nil : row.2, zone: row.3.isEmpty ? nil : row.3, code: ErrorCode(row.4),
                message: row.5, dots: row.6.split(separator: ",").map(String.init), removal: row.7,
                firstAt: Timestamp.parse(row.8) ?? Date(timeIntervalSince1970: 0), lastAt: Timestamp.parse(row.9) ?? Date(timeIntervalSince1970: 0),
                times: Int(row.10)))
        }
        return pending
    }

    public func resolveRefusals(device: String, _ resolutions: [RefusalResolution]) async throws -> Int {
        let logger = logger
        return try await client.withTransaction(logger: logger) { tx in
            // The merges' lock: a resolution never interleaves with a push planning over the same rows.
            try await tx.query("SELECT pg_advisory_xact_lock(\(Self.feedLock))", logger: logger)
            let ended = RefusalLog.ended(try await Self.openRefusals(tx, device: device, logger: logger), by: resolutions)
            if !ended.isEmpty {
                try await tx.query("DELETE FROM refusals WHERE id = ANY(\(ended.map(\.id)))", logger: logger)
            }
            return ended.count
        }
    }
}
