import Dispatch

/// Runs blocking work (file reads, writes, fsyncs, hashing a 512 MiB photo) on threads of its own,
/// never on Swift's cooperative pool, whose few threads (one per core) must stay free to run tasks.
///
/// ```swift
/// let (sha, size) = try await BlockingIO.run { try StreamingSHA256.of(file: url) }
/// ```
public enum BlockingIO {
    /// Dispatch's global queues are not the cooperative pool: they add threads while these block.
    static let queue = DispatchQueue(label: "butler.blocking-io", qos: .userInitiated, attributes: .concurrent)

    /// Runs `work` on a blocking-I/O thread and returns its result. Cancellation is not forwarded:
    /// the work is short (one chunk, one file) and always finishes, so nothing is left half done.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}
