import Crypto
import Foundation

/// The device key that encrypts record states and queued edits at rest (AES-256-GCM).
///
/// Residents' personal data (names, phone numbers, household details, complaint text) lives in the
/// records. With a key, every record state and every outbox delta is sealed before it reaches the
/// SQLite file, so a copied `butler.sqlite` from a lost handheld reveals nothing without the key.
/// The key is kept **outside the database**, in a file the device provisions separately — typically
/// on a credential store unlocked at login (`systemd-creds`, a TPM-sealed file, a smart card) — and
/// named by `BUTLER_KEY_FILE`. Photos are not encrypted (they are evidence uploaded as soon as there
/// is coverage); the device's full-disk encryption covers them. See `docs/threat-model.md`.
public struct AtRestKey: Sendable {
    static let magic = Data("BSE1".utf8)
    /// The raw key bytes (swift-crypto's `SymmetricKey` is not `Sendable`; one is made per use).
    let bytes: Data
    var key: SymmetricKey { SymmetricKey(data: bytes) }

    /// Reads a key file: 32 raw bytes or 64 hex digits.
    public init(file: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: file) } catch {
            throw ClientError(.file, "cannot read the device key \(file.path): \(error.localizedDescription)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if data.count == 32 {
            bytes = data
        } else if text.count == 64, let decoded = AtRestKey.hexBytes(text) {
            bytes = decoded
        } else {
            throw ClientError(.invalidArgument, "the device key \(file.path) must hold 32 bytes or 64 hex digits")
        }
    }

    init(key: SymmetricKey) { self.bytes = key.withUnsafeBytes { Data($0) } }

    /// Creates a new random key file readable only by its owner.
    public static func create(file: URL) throws -> AtRestKey {
        let key = SymmetricKey(size: .bits256)
        let hex = key.withUnsafeBytes { Data($0) }.map { String(format: "%02x", $0) }.joined()
        guard FileManager.default.createFile(atPath: file.path, contents: Data((hex + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ClientError(.file, "cannot create the device key \(file.path)")
        }
        return AtRestKey(key: key)
    }

    /// `magic ‖ nonce ‖ ciphertext ‖ tag`.
    func seal(_ plaintext: Data) throws -> Data {
        do {
            guard let combined = try AES.GCM.seal(plaintext, using: key).combined else {
                throw ClientError(.database, "AES-GCM produced no output")
            }
            return AtRestKey.magic + combined
        } catch let error as ClientError { throw error } catch {
            throw ClientError(.database, "cannot encrypt a record: \(error)")
        }
    }

    func open(_ sealed: Data) throws -> Data {
        guard sealed.starts(with: AtRestKey.magic) else {
            throw ClientError(.database, "a stored record is not encrypted, but this store uses a device key")
        }
        do {
            return try AES.GCM.open(AES.GCM.SealedBox(combined: sealed.dropFirst(AtRestKey.magic.count)), using: key)
        } catch {
            throw ClientError(.database, "a stored record does not open with this device key (wrong key, or the file was altered)")
        }
    }

    static func hexBytes(_ text: String) -> Data? {
        var bytes = Data()
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }

    /// The key named by `BUTLER_KEY_FILE`, if set.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> AtRestKey? {
        guard let path = environment["BUTLER_KEY_FILE"], !path.isEmpty else { return nil }
        return try AtRestKey(file: URL(fileURLWithPath: path))
    }
}
