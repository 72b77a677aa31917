import ButlerModel
import Foundation
import Logging
import PostgresNIO

/// The console's tables on PostgreSQL (see ``ConsoleStorage``), created in ``migrate()``.
extension PostgresStorage: ConsoleStorage {
    static func migrateConsole(_ tx: PostgresConnection, logger: Logger) async throws {
        try await tx.query("""
            CREATE TABLE IF NOT EXISTS console_users (
                name TEXT PRIMARY KEY, zones TEXT NOT NULL, role TEXT NOT NULL, password_hash TEXT NOT NULL,
                created_at TEXT NOT NULL, revoked_at TEXT)
            """, logger: logger)
        try await tx.query("""
            CREATE TABLE IF NOT EXISTS console_sessions (
                id_hash TEXT PRIMARY KEY, user_name TEXT NOT NULL, csrf TEXT NOT NULL, created_at TEXT NOT NULL,
                expires_at TEXT NOT NULL, revoked_at TEXT)
            """, logger: logger)
        try await tx.query("CREATE INDEX IF NOT EXISTS console_sessions_user ON console_sessions(user_name)", logger: logger)
        try await tx.query("CREATE TABLE IF NOT EXISTS device_seen (name TEXT PRIMARY KEY, seen_at TEXT NOT NULL)", logger: logger)
    }

    public func addConsoleUser(_ user: ConsoleUser) async throws {
        let zones = user.zones.map(\.rawValue).joined(separator: ",")
        let rows = try await client.query(
            """
            INSERT INTO console_users (name, zones, role, password_hash, created_at)
            VALUES (\(user.name), \(zones), \(user.role.rawValue), \(user.passwordHash), \(Timestamp.format(user.createdAt)))
            ON CONFLICT (name) DO NOTHING RETURNING name
            """, logger: logger)
        var inserted = false
        for try await _ in rows.decode(String.self) { inserted = true }
        guard inserted else { throw ModelError(.invalidValue, "a console user named \(user.name) already exists") }
    }

    public func consoleUsers() async throws -> [ConsoleUser] {
        let rows = try await client.query(
            "SELECT name, zones, role, password_hash, created_at, revoked_at FROM console_users ORDER BY name", logger: logger)
        var users: [ConsoleUser] = []
        for try await row in rows.decode((String, String, String, String, String, String?).self) { users.append(try Self.consoleUser(row)) }
        return users
    }

    public func consoleUser(name: String) async throws -> ConsoleUser? {
        let rows = try await client.query(
            "SELECT name, zones, role, password_hash, created_at, revoked_at FROM console_users WHERE name = \(name)", logger: logger)
        for try await row in rows.decode((String, String, String, String, String, String?).self) { return try Self.consoleUser(row) }
        return nil
    }

    public func revokeConsoleUser(name: String, at: Date) async throws -> Bool {
        let at = Timestamp.format(at)
        let logger = logger
        return try await client.withTransaction(logger: logger) { tx in
            let rows = try await tx.query(
                "UPDATE console_users SET revoked_at = COALESCE(revoked_at, \(at)) WHERE name = \(name) RETURNING name", logger: logger)
            var found = false
            for try await _ in rows.decode(String.self) { found = true }
            guard found else { return false }
            try await tx.query("UPDATE console_sessions SET revoked_at = COALESCE(revoked_at, \(at)) WHERE user_name = \(name)", logger: logger)
            return true
        }
    }

    public func addConsoleSession(_ session: ConsoleSession) async throws {
        try await client.query(
            """
            INSERT INTO console_sessions (id_hash, user_name, csrf, created_at, expires_at)
            VALUES (\(session.idHash), \(session.user), \(session.csrf), \(Timestamp.format(session.createdAt)), \(Timestamp.format(session.expiresAt)))
            """, logger: logger)
    }

    public func consoleSession(idHash: String) async throws -> ConsoleSession? {
        let rows = try await client.query(
            "SELECT id_hash, user_name, csrf, created_at, expires_at, revoked_at FROM console_sessions WHERE id_hash = \(idHash)", logger: logger)
        for try await row in rows.decode((String, String, String, String, String, String?).self) {
            return ConsoleSession(
                idHash: row.0, user: row.1, csrf: row.2, createdAt: Timestamp.parse(row.3) ?? Date(timeIntervalSince1970: 0),
                expiresAt: Timestamp.parse(row.4) ?? Date(timeIntervalSince1970: 0), revokedAt: row.5.flatMap(Timestamp.parse))
        }
        return nil
    }

    public func revokeConsoleSession(idHash: String, at: Date) async throws {
        try await client.query(
            "UPDATE console_sessions SET revoked_at = COALESCE(revoked_at, \(Timestamp.format(at))) WHERE id_hash = \(idHash)", logger: logger)
    }

    public func noteDeviceSeen(name: String, at: Date) async throws {
        try await client.query(
            "INSERT INTO device_seen (name, seen_at) VALUES (\(name), \(Timestamp.format(at))) ON CONFLICT (name) DO UPDATE SET seen_at = excluded.seen_at",
            logger: logger)
    }

    public func devicesLastSeen() async throws -> [String: Date] {
        let rows = try await client.query("SELECT name, seen_at FROM device_seen", logger: logger)
        var seen: [String: Date] = [:]
        for try await (name, at) in rows.decode((String, String).self) { if let at = Timestamp.parse(at) { seen[name] = at } }
        return seen
    }

    static func consoleUser(_ row: (String, String, String, String, String, String?)) throws -> ConsoleUser {
        ConsoleUser(
            name: row.0, zones: try row.1.split(separator: ",").map { try Zone(String($0)) }, role: DeviceRole(rawValue: row.2) ?? .supervisor,
            passwordHash: row.3, createdAt: Timestamp.parse(row.4) ?? Date(timeIntervalSince1970: 0), revokedAt: row.5.flatMap(Timestamp.parse))
    }
}
