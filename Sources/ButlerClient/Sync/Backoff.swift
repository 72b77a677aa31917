/// Exponential back-off with full jitter (the AWS Architecture Blog's "Exponential Backoff And
/// Jitter"): attempt *n* waits a uniformly random time in `0 … min(cap, base · 2ⁿ)`, so a fleet of
/// devices regaining coverage together does not hammer the server in step.
public struct Backoff: Sendable {
    public var base: Duration
    public var cap: Duration

    public init(base: Duration = .seconds(1), cap: Duration = .seconds(300)) {
        self.base = base
        self.cap = cap
    }

    /// The ceiling of attempt `attempt` (0-based): `min(cap, base · 2^attempt)`.
    public func ceiling(attempt: Int) -> Duration {
        let factor = Int64(1) << Int64(min(attempt, 30))
        let ceiling = base * factor
        return ceiling > cap ? cap : ceiling
    }

    /// A random wait for attempt `attempt`.
    public func delay<R: RandomNumberGenerator>(attempt: Int, using rng: inout R) -> Duration {
        let ceilingMillis = ceiling(attempt: attempt).milliseconds
        guard ceilingMillis > 0 else { return .zero }
        return .milliseconds(Int64.random(in: 0...ceilingMillis, using: &rng))
    }

    public func delay(attempt: Int) -> Duration {
        var rng = SystemRandomNumberGenerator()
        return delay(attempt: attempt, using: &rng)
    }
}
