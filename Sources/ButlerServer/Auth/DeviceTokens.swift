import ButlerModel
import Crypto
import Foundation

/// Device bearer tokens: 256 random bits, shown once; the server stores only their SHA-256.
public enum DeviceTokens {
    /// A new token, `bt_` and 64 hex digits.
    public static func mint() -> String {
        var rng = SystemRandomNumberGenerator()
        return "bt_" + SHA256Hasher.hexString((0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    /// What the server stores and looks tokens up by.
    public static func hash(_ token: String) -> String {
        SHA256Hasher.hexString(Array(Crypto.SHA256.hash(data: Data(token.utf8))))
    }
}

/// Adds, revokes and lists devices: what `butler-server device …` runs, even while a server runs
/// on the same data directory.
public struct DeviceRegistry: Sendable {
    public let storage: any SyncStorage

    public init(storage: any SyncStorage) {
        self.storage = storage
    }

    /// Registers a device and returns its token (the only time it is ever shown).
    public func add(name: String, role: DeviceRole, zones: [Zone], now: Date = Date()) async throws -> String {
        guard !name.isEmpty, name.unicodeScalars.count <= 64, !name.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw ModelError(.invalidValue, "a device name must be 1–64 characters without control characters")
        }
        guard !zones.isEmpty else { throw ModelError(.invalidValue, "a device needs at least one zone") }
        // The console's users merge under `console:NAME` (``ConsoleUser/deviceName``): no device takes such a name.
        guard !name.hasPrefix(ConsoleUser.devicePrefix) else {
            throw ModelError(.invalidValue, "device names starting with \"\(ConsoleUser.devicePrefix)\" are kept for the supervisor console")
        }
        let token = DeviceTokens.mint()
        try await storage.addDevice(name: name, role: role, zones: zones, tokenHash: DeviceTokens.hash(token), at: now)
        return token
    }

    /// Revokes a device at once: every request with its token is refused from now on.
    public func revoke(name: String, now: Date = Date()) async throws {
        guard try await storage.revokeDevice(name: name, at: now) else {
            throw ModelError(.unknownRecord, "no device named \(name)")
        }
    }

    public func list() async throws -> [DeviceRecord] {
        try await storage.devices()
    }
}

