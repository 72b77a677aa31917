import ButlerModel
import Foundation
import GRDB

/// The pending refusals in the embedded store (``RefusalLog``): written in the merge transaction.
extension SQLiteStorage {
    static func registerRefusalMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v5-refusals") { db in
            try db.execute(sql: """
                CREATE TABLE refusals (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    device TEXT NOT NULL,
                    record TEXT NOT NULL,
                    zone TEXT NOT NULL,
                    code TEXT NOT NULL,
                    message TEXT NOT NULL,
                    dots TEXT NOT NULL,
                    removal INTEGER NOT NULL,
                    first_at TEXT NOT NULL,
                    last_at TEXT NOT NULL,
                    times INTEGER NOT NULL
                );
                CREATE INDEX refusals_device ON refusals(device);
                """)
        }
    }

    static func openRefusals(_ db: Database, device: String) throws -> [RefusalLog.Open] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT id, record, code, dots, removal FROM refusals WHERE device = ? ORDER BY id"), arguments: [device])
            .map { RefusalLog.Open(id: $0["id"], record: $0["record"], code: $0["code"], dotsText: $0["dots"], removal: $0["removal"]) }
    }

    static func keepRefusals(_ db: Database, _ plan: RefusalLog.Plan, device: String, at now: Date) throws {
        let at = Timestamp.format(now)
        for id in plan.resolved.keys.sorted() {
            try db.execute(sql: "DELETE FROM refusals WHERE id = ?", arguments: [id])
        }
        for (id, again) in plan.repeats.sorted(by: { $0.key < $1.key }) {
            try db.execute(
                sql: "UPDATE refusals SET times = times + ?, last_at = ?, code = ?, message = ? WHERE id = ?",
                arguments: [again.times, at, again.code.rawValue, again.message, id])
        }
        for (draft, times) in plan.inserts {
            try db.execute(
                sql: """
                    INSERT INTO refusals (device, record, zone, code, message, dots, removal, first_at, last_at, times)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    device, draft.record ?? "", draft.zone ?? "", draft.code.rawValue, draft.message, RefusalLog.dotsText(draft.dots), draft.removal, at,
                    at, times,
                ])
        }
    }

    public func pendingRefusals() async throws -> [PendingRefusal] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM refusals ORDER BY device, id").map { row in
                let record: String = row["record"]
                let zone: String = row["zone"]
                let dots: String = row["dots"]
                return PendingRefusal(
                    id: row["id"], device: row["device"], record: record.isEmpty ? nil : record, zone: zone.isEmpty ? nil : zone,
                    code: ErrorCode(row["code"]), message: row["message"], dots: dots.split(separator: ",").map(String.init), removal: row["removal"],
                    firstAt: Timestamp.parse(row["first_at"]) ?? Date(timeIntervalSince1970: 0),
                    lastAt: Timestamp.parse(row["last_at"]) ?? Date(timeIntervalSince1970: 0), times: row["times"])
            }
        }
    }

    public func resolveRefusals(device: String, _ resolutions: [RefusalResolution]) async throws -> Int {
        try await pool.write { db in
            let ended = RefusalLog.ended(try Self.openRefusals(db, device: device), by: resolutions)
            for row in ended { try db.execute(sql: "DELETE FROM refusals WHERE id = ?", arguments: [row.id]) }
            return ended.count
        }
    }
}
