import ButlerModel
import ButlerTestSupport
import Foundation
import Synchronization

/// Seconds taken by `body`.
func seconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// The peak resident set (VmHWM) of a running process, in bytes.
func peakRSS(pid: Int32) -> Int64? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
    else { return nil }
    let kb = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int64($0) }
    return kb.map { $0 * 1024 }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Runs a command to completion with the shared runner, returning stdout; throws on a non-zero exit.
@discardableResult
func run(_ executable: URL, _ arguments: [String]) async throws -> String {
    let result = try await runCommand(executable, arguments, timeout: .seconds(600))
    guard result.status == 0, !result.signalled else {
        throw BenchFailure("\(executable.lastPathComponent) \(arguments.prefix(3).joined(separator: " ")) exited \(result.status)")
    }
    return result.stdout
}

extension ServerProcess {
    /// A quiet butler-server for one scenario, started.
    static func bench(data: URL, storeArguments: [String] = []) async throws -> ServerProcess {
        let server = ServerProcess(data: data, storeArguments: storeArguments, environment: ["BUTLER_LOG_LEVEL": "error"])
        try await server.start()
        return server
    }

    /// The server's peak resident set so far.
    var peakRSS: Int64? { pid.flatMap { butler_bench.peakRSS(pid: $0) } }
}

/// Percentile of sorted samples.
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

func format(_ value: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }
func mb(_ bytes: Int64?) -> String { bytes.map { String(format: "%.0f MB", Double($0) / 1_048_576) } ?? "n/a" }

/// Samples shared between concurrent device tasks.
final class Samples: Sendable {
    private let storage = Mutex<(latencies: [Double], errors: Int)>(([], 0))
    func add(_ latency: Double) { storage.withLock { $0.latencies.append(latency) } }
    func fail() { storage.withLock { $0.errors += 1 } }
    var snapshot: (latencies: [Double], errors: Int) { storage.withLock { $0 } }
}
