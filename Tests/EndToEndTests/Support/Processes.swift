import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where the built executables are: `$BUTLER_BIN_DIR`, the test runner's folder, or `.build/debug`.
enum Binaries {
    static let directory: URL = {
        var candidates: [URL] = []
        if let dir = ProcessInfo.processInfo.environment["BUTLER_BIN_DIR"] { candidates.append(URL(fileURLWithPath: dir)) }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent())
        candidates.append(
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent(".build/debug"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("butler-server").path) }
            ?? candidates.last!
    }()

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }
}

/// The result of a finished command.
struct CommandResult: Sendable {
    let status: Int32
    let stdout: String
    let stderr: String
    /// Whether it was ended by a signal rather than exiting.
    let signalled: Bool
}

/// Runs an executable to completion with a time limit.
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(120)) throws -> CommandResult {
    let process = Process()
    process.executableURL = Binaries.url(executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let outData = Mutex(Data())
    let errData = Mutex(Data())
    out.fileHandleForReading.readabilityHandler = { h in let d = h.availableData; outData.withLock { $0.append(d) } }
    err.fileHandleForReading.readabilityHandler = { h in let d = h.availableData; errData.withLock { $0.append(d) } }
    try process.run()
    let deadline = ContinuousClock.now + timeout
    while process.isRunning {
        if ContinuousClock.now > deadline {
            process.terminate()
            process.waitUntilExit()
            break
        }
        usleep(2_000)
    }
    process.waitUntilExit()
    out.fileHandleForReading.readabilityHandler = nil
    err.fileHandleForReading.readabilityHandler = nil
    outData.withLock { $0.append(out.fileHandleForReading.readDataToEndOfFile()) }
    errData.withLock { $0.append(err.fileHandleForReading.readDataToEndOfFile()) }
    return CommandResult(
        status: process.terminationStatus, stdout: outData.withLock { String(decoding: $0, as: UTF8.self) },
        stderr: errData.withLock { String(decoding: $0, as: UTF8.self) }, signalled: process.terminationReason == .uncaughtSignal)
}

/// A `butler-server serve` process on loopback, on its own data directory.
final class ServerProcess: @unchecked Sendable {
    // @unchecked: `process` and `port` are only touched by the test that owns the server, one call
    // at a time; the output buffer is behind a Mutex.
    let data: URL
    /// Arguments every command on this server's store takes (`--database-url …`, `--blobs …`).
    let storeArguments: [String]
    private(set) var port: Int
    private var process: Process?
    private let output = LockedData()

    init(data: URL, port: Int = 0, storeArguments: [String] = []) {
        self.data = data
        self.port = port
        self.storeArguments = storeArguments
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// Starts the server and waits until it listens (at most 60 s).
    func start() throws {
        let process = Process()
        process.executableURL = Binaries.url("butler-server")
        process.arguments = ["serve", "--data", data.path, "--host", "127.0.0.1", "--port", String(port)] + storeArguments
        var env = ProcessInfo.processInfo.environment
        env["LOG_LEVEL"] = "warning"
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        output.reset()
        out.fileHandleForReading.readabilityHandler = { [output] h in output.append(h.availableData) }
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let text = output.text
            if let line = text.split(separator: "\n").first(where: { $0.contains("listening on") }), let p = Int(line.split(separator: ":").last ?? "") {
                port = p
                return
            }
            guard process.isRunning else { throw TestFailure("butler-server exited with \(process.terminationStatus) before listening") }
            usleep(10_000)
        }
        throw TestFailure("butler-server did not start listening within 60 s")
    }

    /// SIGTERM and wait: a graceful stop.
    func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// SIGKILL and wait: a crash.
    func kill() {
        guard let process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { kill() }

    /// Registers a device on this server's data directory; returns its token.
    func addDevice(_ name: String, role: String, zones: String) throws -> String {
        let result = try runCommand("butler-server", ["device", "add", "--data", data.path, "--name", name, "--role", role, "--zones", zones] + storeArguments)
        guard result.status == 0 else { throw TestFailure("device add failed: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A fresh temporary folder, removed at the end.
final class Scratch: Sendable {
    let url: URL
    init(_ name: String) {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("butler-e2e-\(name)-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Deterministic bytes for a test photo.
func writePhoto(_ url: URL, bytes: Int, seed: UInt64) throws {
    var state = seed
    var data = Data(capacity: bytes)
    while data.count < bytes {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        withUnsafeBytes(of: state) { data.append(contentsOf: $0.prefix(min(8, bytes - data.count))) }
    }
    try data.write(to: url)
}

/// Bytes appended from a pipe's handler thread and read by the test.
final class LockedData: Sendable {
    private let data = Mutex(Data())
    func append(_ more: Data) { data.withLock { $0.append(more) } }
    func reset() { data.withLock { $0 = Data() } }
    var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
}
