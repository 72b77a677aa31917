import ButlerFiles
import ButlerModel
import Crypto
import Foundation
import _CryptoExtras

/// Console passwords, kept only as a salted scrypt hash.
///
/// Why a password and not a one-time sign-in link: supervisors sign in again and again from a
/// shared tablet in the estate office, and the server has no mail or SMS channel to deliver a
/// link. The stored form is `scrypt$N$r$p$salt$hash` (salt and hash in base64): a random 16-byte
/// salt per user and the cost parameters beside the hash, so the cost can be raised for new
/// passwords without breaking the old ones. Hashing runs on ``BlockingIO``'s threads, never on
/// the cooperative pool, and the comparison takes the same time wherever the bytes differ.
public enum ConsolePassword {
    /// Cost parameters: N = 2¹⁵, r = 8, p = 1 (32 MiB, tens of milliseconds per attempt).
    public struct Cost: Hashable, Sendable {
        public var rounds: Int
        public var blockSize: Int
        public var parallelism: Int

        public init(rounds: Int, blockSize: Int, parallelism: Int) {
            self.rounds = rounds
            self.blockSize = blockSize
            self.parallelism = parallelism
        }

        public static let standard = Cost(rounds: 1 << 15, blockSize: 8, parallelism: 1)
        /// For tests only: the same algorithm at a fraction of the cost.
        public static let fast = Cost(rounds: 1 << 10, blockSize: 8, parallelism: 1)
    }

    /// The shortest password `console-user add` accepts.
    public static let minimumLength = 10

    /// The stored form of `password` with a fresh random salt.
    public static func hash(_ password: String, cost: Cost = .standard) async throws -> String {
        let salt = ConsoleSecrets.randomBytes(16)
        let key = try await derive(password, salt: salt, cost: cost)
        return "scrypt$\(cost.rounds)$\(cost.blockSize)$\(cost.parallelism)$\(Data(salt).base64EncodedString())$\(Data(key).base64EncodedString())"
    }

    /// Whether `password` matches `stored`; false (after the same work) for a malformed `stored`.
    public static func verify(_ password: String, against stored: String) async throws -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 6, parts[0] == "scrypt", let n = Int(parts[1]), let r = Int(parts[2]), let p = Int(parts[3]),
            n > 1, n <= 1 << 20, n & (n - 1) == 0, (1...32).contains(r), (1...16).contains(p),
            let salt = Data(base64Encoded: parts[4]), let expected = Data(base64Encoded: parts[5]), !expected.isEmpty
        else {
            _ = try await derive(password, salt: [0], cost: .standard)
            return false
        }
        let key = try await derive(password, salt: [UInt8](salt), cost: Cost(rounds: n, blockSize: r, parallelism: p), length: expected.count)
        return ConsoleSecrets.constantTimeEqual(key, [UInt8](expected))
    }

    /// A hash no password matches, verified against when a name is unknown so that a wrong name
    /// costs the same time as a wrong password.
    static let decoy = "scrypt$\(Cost.standard.rounds)$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

    static func derive(_ password: String, salt: [UInt8], cost: Cost, length: Int = 32) async throws -> [UInt8] {
        let bytes = Array(password.utf8)
        return try await BlockingIO.run {
            let key = try KDF.Scrypt.deriveKey(
                from: bytes, salt: salt, outputByteCount: length, rounds: cost.rounds, blockSize: cost.blockSize, parallelism: cost.parallelism)
            return key.withUnsafeBytes { Array($0) }
        }
    }
}

/// Random secrets and their comparison, for the console's sessions and CSRF tokens.
public enum ConsoleSecrets {
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// 256 random bits as 64 hex digits.
    public static func token() -> String { SHA256Hasher.hexString(randomBytes(32)) }

    /// The SHA-256 (hex) of a session id: what the store keeps.
    public static func hash(_ token: String) -> String {
        SHA256Hasher.hexString(Array(Crypto.SHA256.hash(data: Data(token.utf8))))
    }

    /// Compares in time that depends only on the lengths, never on where the bytes differ.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool { constantTimeEqual(Array(a.utf8), Array(b.utf8)) }
}
