import ButlerModel
import Foundation
import Synchronization

/// Simulated time: it moves only when the simulation advances it, never by itself. Nothing in a
/// simulated run sleeps or reads the machine's clock.
public final class SimulatedTime: WallClock {
    private let instant: Mutex<Date>

    public init(start: Date) { instant = Mutex(start) }

    public func now() -> Date { instant.withLock { $0 } }

    func advance(by seconds: TimeInterval) { instant.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// A device's clock: simulated time plus the device's own error, which the simulation sets
/// (skewed by hours, jumping by days, corrected again).
final class DeviceClock: WallClock {
    let base: SimulatedTime
    private let offset = Mutex<TimeInterval>(0)

    init(base: SimulatedTime) { self.base = base }

    func now() -> Date { base.now().addingTimeInterval(offset.withLock { $0 }) }

    var skew: TimeInterval {
        get { offset.withLock { $0 } }
        set { offset.withLock { $0 = newValue } }
    }
}

/// The simulation's one source of decisions (``SplitMix64``): what each device does, which faults
/// strike, when. Drawn in a fixed order, so a seed replays the same run.
struct Decisions {
    private var generator: SplitMix64

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }

    /// A uniform double in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func chance(_ p: Double) -> Bool { unit() < p }

    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }

    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}
