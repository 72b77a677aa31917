import ButlerModel
import Foundation

/// Adds, lists and revokes console accounts: what `butler-server console-user …` runs, even while
/// a server runs on the same data directory.
public struct ConsoleAccounts: Sendable {
    public let storage: any ConsoleStorage
    public let cost: ConsolePassword.Cost

    public init(storage: any ConsoleStorage, cost: ConsolePassword.Cost = .standard) {
        self.storage = storage
        self.cost = cost
    }

    /// The console tables of `storage`, or a clear error when the store has none.
    public init(storage: any SyncStorage, cost: ConsolePassword.Cost = .standard) throws {
        guard let console = storage as? any ConsoleStorage else {
            throw ModelError(.invalidValue, "this store keeps no console accounts")
        }
        self.init(storage: console, cost: cost)
    }

    /// Creates a supervisor's account; the password is stored only as its scrypt hash.
    public func add(name: String, zones: [Zone], password: String, now: Date = Date()) async throws {
        try Self.validate(name: name)
        guard !zones.isEmpty else { throw ModelError(.invalidValue, "a console user needs at least one zone") }
        guard password.count >= ConsolePassword.minimumLength, password.utf8.count <= 1024 else {
            throw ModelError(.invalidValue, "a console password must be \(ConsolePassword.minimumLength)–1024 characters")
        }
        let hash = try await ConsolePassword.hash(password, cost: cost)
        try await storage.addConsoleUser(ConsoleUser(name: name, zones: zones, passwordHash: hash, createdAt: now))
    }

    /// Revokes an account and ends every session of it at once.
    public func revoke(name: String, now: Date = Date()) async throws {
        guard try await storage.revokeConsoleUser(name: name, at: now) else {
            throw ModelError(.unknownRecord, "no console user named \(name)")
        }
    }

    public func list() async throws -> [ConsoleUser] { try await storage.consoleUsers() }

    /// A console name: 1–48 letters, digits, `.`, `_` or `-` (it becomes the author name of edits).
    static func validate(name: String) throws {
        guard (1...48).contains(name.unicodeScalars.count),
            name.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0) })
        else {
            throw ModelError(.invalidValue, "a console user name must be 1–48 letters, digits, '.', '_' or '-'")
        }
    }
}
