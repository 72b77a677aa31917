import ButlerModel
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

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

/// Where the built executables are: beside this one.
let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Runs a command to completion, returning stdout; throws on a non-zero exit.
@discardableResult
func run(_ executable: URL, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw BenchFailure("\(executable.lastPathComponent) \(arguments.prefix(3).joined(separator: " ")) exited \(process.terminationStatus)")
    }
    return String(decoding: data, as: UTF8.self)
}

/// A butler-server process on 127.0.0.1 for one scenario.
final class BenchServer: Sendable {
    let data: URL
    let storeArguments: [String]
    let process: Process
    let port: Int
    let url: String

    init(data: URL, storeArguments: [String] = []) throws {
        self.data = data
        self.storeArguments = storeArguments
        let process = Process()
        process.executableURL = binaries.appendingPathComponent("butler-server")
        process.arguments = ["serve", "--data", data.path, "--port", "0"] + storeArguments
        var env = ProcessInfo.processInfo.environment
        env["LOG_LEVEL"] = "error"
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var buffer = Data()
        var port = 0
        while port == 0 {
            let chunk = out.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw BenchFailure("butler-server exited before listening") }
            buffer.append(chunk)
            let text = String(decoding: buffer, as: UTF8.self)
            if let line = text.split(separator: "\n").first(where: { $0.contains("listening on") }) {
                port = Int(line.split(separator: ":").last ?? "") ?? 0
            }
        }
        self.process = process
        self.port = port
        self.url = "http://127.0.0.1:\(port)"
    }

    func addDevice(_ name: String, zones: String = "east-3", role: String = "butler") throws -> String {
        try run(binaries.appendingPathComponent("butler-server"), ["device", "add", "--data", data.path, "--name", name, "--role", role, "--zones", zones] + storeArguments)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    var peakRSS: Int64? { butler_bench.peakRSS(pid: process.processIdentifier) }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
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
