import Foundation

/// A source of wall-clock time, injected so that clocks, deadlines and back-off are testable.
public protocol WallClock: Sendable {
    func now() -> Date
}

/// The system's real-time clock.
public struct SystemWallClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that always reads the same instant (for tests, demos and replays).
public struct FixedWallClock: WallClock {
    public let instant: Date
    public init(_ instant: Date) { self.instant = instant }
    public func now() -> Date { instant }
}

/// A hybrid logical clock timestamp: wall-clock milliseconds plus a logical counter.
///
/// Ordered by `(millis, logical)`; ties between replicas are broken by replica id where the
/// timestamp is used (``FieldEntry`` ordering), never by wall clock alone.
public struct HLCTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let millis: Int64
    public let logical: UInt32

    public init(millis: Int64, logical: UInt32 = 0) {
        self.millis = millis
        self.logical = logical
    }

    public static let zero = HLCTimestamp(millis: 0, logical: 0)

    public static func < (lhs: HLCTimestamp, rhs: HLCTimestamp) -> Bool {
        (lhs.millis, lhs.logical) < (rhs.millis, rhs.logical)
    }

    public var date: Date { Date(timeIntervalSince1970: Double(millis) / 1000) }

    public var description: String { "\(millis).\(logical)" }
}

/// A hybrid logical clock (Kulkarni et al., 2014): monotone, close to wall time, and never behind
/// any timestamp it has observed, so "later" survives clock skew between devices.
///
/// Observed timestamps more than ``maxForwardDrift`` ahead of the local wall clock are not
/// followed: one device with a clock set years ahead must not drag every replica's clock with it.
public struct HybridLogicalClock: Sendable {
    /// How far ahead of local wall time an observed timestamp may pull this clock (7 days).
    public static let maxForwardDrift: Int64 = 7 * 24 * 3600 * 1000

    public private(set) var last: HLCTimestamp

    public init(last: HLCTimestamp = .zero) {
        self.last = last
    }

    /// A timestamp for a local event at wall time `now`, greater than every earlier one.
    public mutating func tick(now: Date) -> HLCTimestamp {
        let wall = Self.millis(now)
        if wall > last.millis {
            last = HLCTimestamp(millis: wall, logical: 0)
        } else if last.logical == UInt32.max {
            last = HLCTimestamp(millis: last.millis + 1, logical: 0)
        } else {
            last = HLCTimestamp(millis: last.millis, logical: last.logical + 1)
        }
        return last
    }

    /// Folds in a timestamp received from another replica, so later local ticks order after it.
    public mutating func observe(_ remote: HLCTimestamp, now: Date) {
        let wall = Self.millis(now)
        guard remote.millis <= wall + Self.maxForwardDrift else { return }
        if remote > last { last = remote }
    }

    public static func millis(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }
}
