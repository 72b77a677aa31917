import ButlerModel
import Synchronization

/// Wakes the live pulls (`GET /v1/pull?wait=S`) waiting on a zone when a change to a record of
/// that zone commits. The storage publishes after each merge that changed something (and, on
/// PostgreSQL, when its listener hears of another node's commit); a waiting pull subscribes
/// *before* it looks at the feed once more, so a commit between its first read and its wait is
/// never missed: the subscription is already marked and the wait returns at once.
///
/// A signal carries no data, only "look again": the pull re-reads the feed from its cursor, so a
/// spurious wake-up costs one empty query and a lost one costs at most the wait. Waiters of other
/// zones stay asleep, so one busy zone does not make every connected device query the store.
public final class ChangeSignal: Sendable {
    private struct Entry {
        let zones: Set<Zone>
        /// A change arrived since the subscription was made.
        var fired = false
        /// The wait ended for another reason (its time ran out, its task was cancelled).
        var released = false
        var continuation: CheckedContinuation<Void, Never>?
    }

    private struct State {
        var next: UInt64 = 0
        var entries: [UInt64: Entry] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Subscribes to changes in `zones`; call ``Subscription/wait(upTo:)`` after reading the feed
    /// once more, and ``Subscription/cancel()`` when done (the subscription does not outlive it).
    public func subscribe(zones: some Sequence<Zone>) -> Subscription {
        let zones = Set(zones)
        let id = state.withLock { s -> UInt64 in
            s.next += 1
            s.entries[s.next] = Entry(zones: zones)
            return s.next
        }
        return Subscription(signal: self, id: id)
    }

    /// Records in `zones` changed: wakes every subscription to one of them.
    public func publish(zones: some Sequence<Zone>) {
        let zones = Set(zones)
        guard !zones.isEmpty else { return }
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            var woken: [CheckedContinuation<Void, Never>] = []
            for (id, entry) in s.entries where !entry.fired && !entry.zones.isDisjoint(with: zones) {
                if let continuation = entry.continuation { woken.append(continuation) }
                s.entries[id]?.fired = true
                s.entries[id]?.continuation = nil
            }
            return woken
        }
        for continuation in woken { continuation.resume() }
    }

    /// Subscriptions currently held (waiting or about to): the live connections of this node.
    public var subscriptions: Int { state.withLock { $0.entries.count } }

    fileprivate func park(_ id: UInt64) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                guard let entry = s.entries[id], !entry.fired, !entry.released else { return true }
                s.entries[id]?.continuation = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Ends a wait early (timeout, cancellation) without removing the subscription.
    fileprivate func release(_ id: UInt64) {
        let continuation = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard s.entries[id] != nil else { return nil }
            s.entries[id]?.released = true
            defer { s.entries[id]?.continuation = nil }
            return s.entries[id]?.continuation
        }
        continuation?.resume()
    }

    fileprivate func remove(_ id: UInt64) {
        let continuation = state.withLock { s in s.entries.removeValue(forKey: id)?.continuation }
        continuation?.resume()
    }

    fileprivate func hasFired(_ id: UInt64) -> Bool {
        state.withLock { $0.entries[id]?.fired ?? true }
    }

    /// One pull's interest in a set of zones.
    public struct Subscription: Sendable {
        let signal: ChangeSignal
        let id: UInt64

        /// Whether a change arrived since the subscription was made.
        public var hasFired: Bool { signal.hasFired(id) }

        /// Returns when a change in the subscribed zones arrives (at once if one arrived since
        /// subscribing), after `duration`, or when the task is cancelled; true when a change came.
        @discardableResult
        public func wait(upTo duration: Duration) async -> Bool {
            let signal = signal
            let id = id
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    try? await Task.sleep(for: duration)
                    signal.release(id)
                }
                group.addTask {
                    await withTaskCancellationHandler {
                        await signal.park(id)
                    } onCancel: {
                        signal.release(id)
                    }
                }
                await group.next()
                group.cancelAll()
            }
            return hasFired
        }

        /// Ends a wait in progress (or the next one) at once.
        public func release() { signal.release(id) }

        /// Drops the subscription.
        public func cancel() { signal.remove(id) }
    }
}
