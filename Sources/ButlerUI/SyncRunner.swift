import ButlerClient
import ButlerModel
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Runs "sync now" from the page: one sync at a time, in the background of the app's service
/// group, with its progress readable while it runs (`GET /sync/status`).
///
/// A request only queues a wake-up; the sync itself runs in ``run()`` (a `Service`), so no task is
/// left behind the request that asked for it, and a shutdown cancels a sync mid-way (its upload
/// resumes on the next sync, as `butler sync`'s does).
final class SyncRunner: Service, Sendable {
    /// What the sync panel shows.
    struct State: Sendable {
        var running = false
        var phase: SyncProgress.Phase?
        var records = 0
        var bytes: Int64 = 0
        var totalBytes: Int64?
        var finishedAt: Date?
        var report: SyncReport?
        /// Why the last sync did not finish everything, when it did not.
        var failure: ClientError?
    }

    private let makeEngine: @Sendable () throws -> SyncEngine
    /// Runs the sync's own work off the cooperative pool (``SyncExecutor``).
    private let executor = SyncExecutor()
    private let logger: Logger
    private let state = Mutex(State())
    private let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(logger: Logger, makeEngine: @escaping @Sendable () throws -> SyncEngine) {
        self.makeEngine = makeEngine
        self.logger = logger
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    var current: State { state.withLock { $0 } }

    /// Asks for a sync; false when one is already running (the page then shows that one).
    @discardableResult
    func start() -> Bool {
        let started = state.withLock { state -> Bool in
            guard !state.running else { return false }
            state = State(running: true, report: nil, failure: nil)
            return true
        }
        if started { wake.yield() }
        return started
    }

    func run() async throws {
        for await _ in wakes.cancelOnGracefulShutdown() {
            await syncOnce()
        }
    }

    private func syncOnce() async {
        do {
            // Everything the sync does between its network waits (opening the engine, every
            // store call, the completion check) runs on the sync's own executor.
            let (report, left) = try await cancelWhenGracefulShutdown { [executor, makeEngine] in
                try await withTaskExecutorPreference(executor) {
                    let engine = try makeEngine()
                    let report = try await engine.sync { [self] progress in self.record(progress) }
                    return (report, try engine.completion().error)
                }
            }
            state.withLock {
                $0.running = false
                $0.report = report
                $0.failure = left
                $0.finishedAt = Date()
            }
            logger.info("sync from the page finished", metadata: ["sync.pushed": "\(report.pushed)", "sync.pulled": "\(report.pulled)"])
        } catch {
            let failure = Self.clientError(error)
            state.withLock {
                $0.running = false
                $0.failure = failure
                $0.finishedAt = Date()
            }
            logger.notice("sync from the page failed", metadata: ["sync.error": "\(failure.code): \(failure.message)"])
        }
    }

    private func record(_ progress: SyncProgress) {
        state.withLock {
            $0.phase = progress.phase
            $0.records = progress.records
            $0.bytes = progress.bytes
            $0.totalBytes = progress.totalBytes
        }
    }

    static func clientError(_ error: any Error) -> ClientError {
        switch error {
        case let error as ClientError: error
        case let error as ModelError: ClientError(error)
        case is CancellationError: ClientError(.cancelled, "the sync was stopped")
        default: ClientError(.internal, "sync failed: \(error)")
        }
    }
}
