import ButlerModel
import Foundation

/// A supervisor's console account: who signs in to `/console`, and which zones they see.
public struct ConsoleUser: Hashable, Sendable {
    public let name: String
    public let zones: [Zone]
    /// Always ``DeviceRole/supervisor`` today; stored so a manager's account can come later.
    public let role: DeviceRole
    /// The password's scrypt hash with its salt and parameters (``ConsolePassword``), never the password.
    public let passwordHash: String
    public let createdAt: Date
    public let revokedAt: Date?

    public init(name: String, zones: [Zone], role: DeviceRole = .supervisor, passwordHash: String, createdAt: Date, revokedAt: Date? = nil) {
        self.name = name
        self.zones = zones
        self.role = role
        self.passwordHash = passwordHash
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    /// The name this user's edits carry in the merge, the audit log and the replica bindings: no
    /// device can be registered under it (``DeviceRegistry`` refuses the `console:` prefix).
    public var deviceName: String { ConsoleUser.devicePrefix + name }
    public static let devicePrefix = "console:"

    /// What `butler-server console-user list --json` prints (never the hash).
    public var jsonValue: JSONValue {
        [
            "name": .string(name), "role": .string(role.rawValue), "zones": .array(zones.map { .string($0.rawValue) }),
            "createdAt": .string(Timestamp.format(createdAt)),
            "revokedAt": revokedAt.map { .string(Timestamp.format($0)) } ?? .null,
        ]
    }
}

/// A signed-in console session. The store keeps only the SHA-256 of the session id the cookie
/// carries, so a copy of the database opens no session.
public struct ConsoleSession: Hashable, Sendable {
    public let idHash: String
    public let user: String
    /// The CSRF secret every POST form of this session must send back.
    public let csrf: String
    public let createdAt: Date
    public let expiresAt: Date
    public let revokedAt: Date?

    public init(idHash: String, user: String, csrf: String, createdAt: Date, expiresAt: Date, revokedAt: Date? = nil) {
        self.idHash = idHash
        self.user = user
        self.csrf = csrf
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }

    /// Whether the session still opens pages at `now`.
    public func isLive(at now: Date) -> Bool { revokedAt == nil && now < expiresAt }
}

/// The console's tables (`*Storage+Console.swift`): accounts, sessions and each device's last
/// sighting. Both stores adopt it; they create the tables in ``SyncStorage/migrate()``.
public protocol ConsoleStorage: Sendable {
    /// Adds an account; throws `invalid-value` when the name is taken.
    func addConsoleUser(_ user: ConsoleUser) async throws
    func consoleUsers() async throws -> [ConsoleUser]
    func consoleUser(name: String) async throws -> ConsoleUser?
    /// Revokes an account and, in the same transaction, every session of it; false when there is no such account.
    func revokeConsoleUser(name: String, at: Date) async throws -> Bool
    func addConsoleSession(_ session: ConsoleSession) async throws
    func consoleSession(idHash: String) async throws -> ConsoleSession?
    func revokeConsoleSession(idHash: String, at: Date) async throws
    /// Notes that device `name` made an authenticated request at `at` (see ``LastSeen``).
    func noteDeviceSeen(name: String, at: Date) async throws
    /// When each device was last seen, by name.
    func devicesLastSeen() async throws -> [String: Date]
}
