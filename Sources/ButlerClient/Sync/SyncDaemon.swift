import ButlerModel
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The headless sync loop of `butler-syncd`: syncs every ``Configuration/interval`` and whenever
/// asked (SIGUSR1), backs off with full jitter while the server is unreachable, and stops promptly
/// on graceful shutdown — cancelling a transfer in flight, which the next start resumes.
public struct SyncDaemon: Service {
    public struct Configuration: Sendable {
        /// Time between syncs when all is well.
        public var interval: Duration = .seconds(300)
        /// Back-off while the server is unreachable; its cap also bounds the wait.
        public var backoff = Backoff(base: .seconds(2), cap: .seconds(300))
        /// Stop after this many syncs (tests); `nil` runs until shutdown.
        public var maxSyncs: Int? = nil
        /// Between syncs, hold a live pull open (`GET /v1/pull?wait=`) so a colleague's change
        /// is stored the moment it commits; a change that arrives starts a full sync (photos,
        /// anything queued). While the server cannot be reached the daemon falls back to the
        /// interval and the back-off.
        public var live = false
        /// How long one live pull waits before it is asked again (at most 60 s).
        public var liveWait: Duration = .seconds(25)

        public init() {}
    }

    public let engine: SyncEngine
    public let configuration: Configuration
    let logger: Logger

    public init(engine: SyncEngine, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "butler.syncd")) {
        self.engine = engine
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until graceful shutdown (or ``Configuration/maxSyncs``). Throws only for failures a
    /// person must fix (revoked or unknown token, protocol version, a broken store).
    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigusr1)
        let wakeup = Wakeup()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in signals.cancelOnGracefulShutdown() { wakeup.nudge() }
            }
            group.addTask { try await loop(wakeup: wakeup) }
            try await group.next()
            group.cancelAll()
        }
    }

    func loop(wakeup: Wakeup) async throws {
        var failures = 0
        var syncs = 0
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            let wait: Duration
            var online = false
            do {
                let report = try await cancelWhenGracefulShutdown { try await engine.sync() }
                logger.info("synced", metadata: ["sync.pushed": "\(report.pushed)", "sync.pulled": "\(report.pulled)", "sync.bytes.up": "\(report.bytesUploaded)"])
                await logHealth()
                // The same policy as `butler sync`: refused edits need a person, held ones go
                // again at the next sync; neither stops the daemon syncing everything else.
                if let left = try engine.completion().error {
                    let metadata: Logger.Metadata = ["error.code": "\(left.code)", "error.message": "\(left.message)"]
                    if left.isTransient { logger.info("sync left edits waiting", metadata: metadata) } else { logger.warning("sync needs attention", metadata: metadata) }
                }
                failures = 0
                online = true
                wait = configuration.interval
            } catch is CancellationError {
                logger.info("sync interrupted by shutdown; it resumes on the next start")
                return
            } catch let error as ClientError where error.isTransient {
                wait = min(configuration.backoff.delay(attempt: failures), configuration.backoff.cap)
                failures += 1
                logger.warning("sync failed, retrying", metadata: ["error.code": "\(error.code)", "error.message": "\(error.message)", "sync.retry.in": "\(wait)"])
            } catch let error as ClientError {
                logger.error("sync needs attention", metadata: ["error.code": "\(error.code)", "error.message": "\(error.message)"])
                throw error
            }
            syncs += 1
            if let max = configuration.maxSyncs, syncs >= max { return }
            if configuration.live, online {
                // Online: hold a live pull open until the interval is over or something happens.
                await liveWait(upTo: wait, wakeup: wakeup)
            } else {
                // Sleep until the wait is over, a SIGUSR1 arrives, or shutdown begins.
                await wakeup.wait(upTo: wait)
            }
        }
    }

    enum LiveEvent: Sendable {
        case changes(Int), quiet, nudged, shutdown, failed(ClientError)
    }

    /// Holds live pulls open one after another for up to `duration`; returns when changes arrive
    /// (they are stored already; the next full sync fetches their photos), on a nudge, on shutdown,
    /// or when the server stops answering — then sleeps out the interval as a daemon without a
    /// live feed would, so an unreachable server is not asked again at once.
    func liveWait(upTo duration: Duration, wakeup: Wakeup) async {
        let clock = ContinuousClock()
        let deadline = clock.now + duration
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            let left = deadline - clock.now
            guard left > .zero else { return }
            let wait = min(left, configuration.liveWait)
            let engine = engine
            let event = await withTaskGroup(of: LiveEvent.self) { group -> LiveEvent in
                group.addTask {
                    var report = SyncReport()
                    do {
                        let stored = try await engine.pullLive(wait: wait, into: &report)
                        return stored > 0 || report.skipped > 0 ? .changes(stored) : .quiet
                    } catch let error as ClientError {
                        return Task.isCancelled ? .quiet : .failed(error)
                    } catch {
                        return Task.isCancelled ? .quiet : .failed(ClientError(.database, "\(error)"))
                    }
                }
                group.addTask {
                    await wakeup.nextNudge()
                    return .nudged
                }
                group.addTask {
                    do { try await gracefulShutdown() } catch {}
                    return .shutdown
                }
                let first = await group.next() ?? .shutdown
                group.cancelAll()
                return first
            }
            switch event {
            case .quiet:
                continue
            case .changes(let count):
                logger.info("live changes stored", metadata: ["sync.pulled": "\(count)"])
                return
            case .nudged, .shutdown:
                return
            case .failed(let error):
                logger.info("live pull failed; waiting for the next sync", metadata: ["error.code": "\(error.code)", "error.message": "\(error.message)"])
                await wakeup.wait(upTo: deadline - clock.now)
                return
            }
        }
    }
}

/// A sleep that a signal handler can cut short.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Ends the current wait, or the next one if none is running.
    func nudge() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let w = s.waiter else {
                s.pending = true
                return nil
            }
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }

    /// Waits for `duration`, a nudge, graceful shutdown or cancellation, whichever comes first.
    func wait(upTo duration: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: duration) }
            group.addTask { await self.nextNudge() }
            group.addTask { try? await gracefulShutdown() }
            await group.next()
            group.cancelAll()
        }
    }

    func nextNudge() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.pending || Task.isCancelled {
                        s.pending = false
                        return true
                    }
                    s.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }
    }
}
