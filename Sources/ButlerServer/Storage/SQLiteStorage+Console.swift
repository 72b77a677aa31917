import ButlerModel
import Foundation
import GRDB

/// The console's tables in the embedded store (see ``ConsoleStorage``).
extension SQLiteStorage: ConsoleStorage {
    static func registerConsoleMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v4-console") { db in
            try db.execute(sql: """
                CREATE TABLE console_users (
                    name TEXT PRIMARY KEY NOT NULL,
                    zones TEXT NOT NULL,
                    role TEXT NOT NULL,
                    password_hash TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    revoked_at TEXT
                );
                CREATE TABLE console_sessions (
                    id_hash TEXT PRIMARY KEY NOT NULL,
                    user_name TEXT NOT NULL,
                    csrf TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    expires_at TEXT NOT NULL,
                    revoked_at TEXT
                );
                CREATE INDEX console_sessions_user ON console_sessions(user_name);
                CREATE TABLE device_seen (name TEXT PRIMARY KEY NOT NULL, seen_at TEXT NOT NULL);
                """)
        }
    }

    public func addConsoleUser(_ user: ConsoleUser) async throws {
        try await pool.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM console_users WHERE name = ?", arguments: [user.name]) == true {
                throw ModelError(.invalidValue, "a console user named \(user.name) already exists")
            }
            try db.execute(
                sql: "INSERT INTO console_users (name, zones, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [user.name, user.zones.map(\.rawValue).joined(separator: ","), user.role.rawValue, user.passwordHash, Timestamp.format(user.createdAt)])
        }
    }

    public func consoleUsers() async throws -> [ConsoleUser] {
        try await pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM console_users ORDER BY name").map(Self.consoleUser) }
    }

    public func consoleUser(name: String) async throws -> ConsoleUser? {
        try await pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM console_users WHERE name = ?", arguments: [name]).map(Self.consoleUser) }
    }

    public func revokeConsoleUser(name: String, at: Date) async throws -> Bool {
        let at = Timestamp.format(at)
        return try await pool.write { db in
            try db.execute(sql: "UPDATE console_users SET revoked_at = COALESCE(revoked_at, ?) WHERE name = ?", arguments: [at, name])
            guard db.changesCount > 0 else { return false }
            try db.execute(sql: "UPDATE console_sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE user_name = ?", arguments: [at, name])
            return true
        }
    }

    public func addConsoleSession(_ session: ConsoleSession) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO console_sessions (id_hash, user_name, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [session.idHash, session.user, session.csrf, Timestamp.format(session.createdAt), Timestamp.format(session.expiresAt)])
        }
    }

    public func consoleSession(idHash: String) async throws -> ConsoleSession? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM console_sessions WHERE id_hash = ?", arguments: [idHash]).map { row in
                ConsoleSession(
                    idHash: row["id_hash"], user: row["user_name"], csrf: row["csrf"],
                    createdAt: Timestamp.parse(row["created_at"]) ?? Date(timeIntervalSince1970: 0),
                    expiresAt: Timestamp.parse(row["expires_at"]) ?? Date(timeIntervalSince1970: 0),
                    revokedAt: (row["revoked_at"] as String?).flatMap(Timestamp.parse))
            }
        }
    }

    public func revokeConsoleSession(idHash: String, at: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE console_sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id_hash = ?", arguments: [Timestamp.format(at), idHash])
        }
    }

    public func noteDeviceSeen(name: String, at: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO device_seen (name, seen_at) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET seen_at = excluded.seen_at",
                arguments: [name, Timestamp.format(at)])
        }
    }

    public func devicesLastSeen() async throws -> [String: Date] {
        try await pool.read { db in
            var seen: [String: Date] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, seen_at FROM device_seen") {
                if let at = Timestamp.parse(row["seen_at"]) { seen[row["name"]] = at }
            }
            return seen
        }
    }

    static func consoleUser(_ row: Row) throws -> ConsoleUser {
        let zones: String = row["zones"]
        return ConsoleUser(
            name: row["name"], zones: try zones.split(separator: ",").map { try Zone(String($0)) },
            role: DeviceRole(rawValue: row["role"]) ?? .supervisor, passwordHash: row["password_hash"],
            createdAt: Timestamp.parse(row["created_at"]) ?? Date(timeIntervalSince1970: 0),
            revokedAt: (row["revoked_at"] as String?).flatMap(Timestamp.parse))
    }
}
