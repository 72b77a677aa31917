import Synchronization

/// Where random ids come from: replica ids, record ids, the server's issued replicas.
///
/// Production uses the system's generator (``SystemEntropy``). The deterministic simulation
/// (`butler-sim`) injects a ``SeededEntropy`` into every store and server it runs, so one seed
/// gives the same ids, the same dots and the same final states on every run.
public protocol EntropySource: Sendable {
    /// 64 random bits.
    func next() -> UInt64
}

extension EntropySource {
    /// `count` random bytes.
    public func bytes(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            var word = next()
            for _ in 0..<min(8, count - out.count) {
                out.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return out
    }

    /// `count` random bytes as lower-case hex.
    public func hex(bytes count: Int) -> String { SHA256Hasher.hexString(bytes(count)) }

    /// A random version-4 UUID, lower case (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`).
    public func uuidString() -> String {
        var b = bytes(16)
        b[6] = (b[6] & 0x0f) | 0x40
        b[8] = (b[8] & 0x3f) | 0x80
        let h = SHA256Hasher.hexString(b)
        let c = Array(h)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20..<32])
    }
}

/// The system's cryptographically secure generator.
public struct SystemEntropy: EntropySource {
    public init() {}

    public func next() -> UInt64 {
        var rng = SystemRandomNumberGenerator()
        return rng.next()
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a small, fast, seedable generator, so a simulated run or a
/// property test's schedule replays exactly. Not for production ids.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A deterministic ``EntropySource`` for simulations: the same seed gives the same sequence.
/// Not for production ids: anyone who knows the seed knows every id.
public final class SeededEntropy: EntropySource {
    private let generator: Mutex<SplitMix64>

    public init(seed: UInt64) { generator = Mutex(SplitMix64(seed: seed)) }

    public func next() -> UInt64 { generator.withLock { $0.next() } }
}
