import Dispatch

/// Where "sync now" runs: a task executor on a serial dispatch queue of its own.
///
/// `SyncEngine` calls the store (blocking SQLite) between its network awaits, as `butler sync`
/// does. In `butler ui` the cooperative pool also serves the page's requests, and on a 2-core
/// handheld it has two threads: a sync's long pull writes must not hold them. With this executor
/// preferred (`withTaskExecutorPreference`), the sync's task and its child tasks run their
/// synchronous stretches here; the page's requests keep the pool. Dispatch queues are not the
/// cooperative pool (they add threads while one blocks), as ``BlockingIO`` relies on too.
final class SyncExecutor: TaskExecutor {
    private let queue = DispatchQueue(label: "butler.ui.sync", qos: .utility)
    /// Marks the queue, so code (and the tests) can tell it runs here.
    // nonisolated(unsafe): a DispatchSpecificKey is an identity token, never mutated after its
    // creation; Dispatch itself reads it from any thread.
    nonisolated(unsafe) private static let key = DispatchSpecificKey<Bool>()

    init() {
        queue.setSpecific(key: Self.key, value: true)
    }

    /// Whether the calling code runs on a sync executor's queue.
    static var isCurrent: Bool { DispatchQueue.getSpecific(key: key) == true }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}
