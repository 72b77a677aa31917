import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process whose end and output are awaited without blocking a thread.
///
/// Foundation's `waitUntilExit()` and blocking pipe reads hold a thread of Swift's cooperative
/// pool, which has one thread per core: on a 2-core machine two such waits stall every other
/// test. Here the end arrives through `terminationHandler` and a continuation, and output is read
/// by a plain thread of its own (``PipeOutput``).
public final class ChildProcess: Sendable {
    /// How a process ended.
    public struct Exit: Sendable, Equatable {
        /// The exit status, or the signal number when `signalled`.
        public let status: Int32
        /// Whether it was ended by a signal rather than exiting.
        public let signalled: Bool
    }

    private let process: Process
    private let ended = Ended()
    /// What the process wrote to its standard output and error (when captured).
    public let stdout: PipeOutput?
    public let stderr: PipeOutput?

    /// Starts `executable` with `arguments`; the environment is this process's plus `environment`. Output not captured goes to /dev/null.
    public init(
        _ executable: URL, _ arguments: [String], environment: [String: String] = [:], captureStdout: Bool = true,
        captureStderr: Bool = true, currentDirectory: URL? = nil
    ) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        stdout = captureStdout ? PipeOutput() : nil
        stderr = captureStderr ? PipeOutput() : nil
        process.standardOutput = stdout?.pipe ?? FileHandle.nullDevice
        process.standardError = stderr?.pipe ?? FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        process.terminationHandler = { [ended] process in
            ended.finish(Exit(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal))
        }
        self.process = process
        try process.run()
        stdout?.startReading()
        stderr?.startReading()
    }

    /// The child's process id.
    public var pid: Int32 { process.processIdentifier }

    /// Whether it has not ended yet.
    public var isRunning: Bool { ended.state.withLock { $0 == nil } }

    /// How it ended, once it has.
    public var exitIfEnded: Exit? { ended.state.withLock { $0 } }

    /// Waits (suspending, not blocking) until the process has ended.
    ///
    /// Foundation learns that a child ended when a socket the child inherited closes. A child
    /// started at the same moment on another thread can inherit that socket too, and then the
    /// first child's end goes unnoticed until the second exits: a zombie nobody reaps, and a test
    /// waiting for a server it stops only afterwards hangs for ever (seen once in a parallel run).
    /// So while waiting, a child that stays a zombie is reaped here, with its real status.
    public func exit() async -> Exit {
        var zombieSightings = 0
        while true {
            if let exit = exitIfEnded { return exit }
            if Self.isZombie(pid) {
                zombieSightings += 1
                // Give Foundation's own reaping a moment first (its handler records the same exit).
                if zombieSightings >= 5, let exit = Self.reap(pid) { ended.finish(exit) }
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Whether `pid` has exited and not been reaped yet (state `Z` in `/proc/<pid>/stat`).
    static func isZombie(_ pid: Int32) -> Bool {
        guard pid > 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return stat[stat.index(after: close)...].drop { $0 == " " }.first == "Z"
    }

    /// Reaps `pid` if it has ended, without blocking; its exit, or nil (not ended, or already reaped).
    static func reap(_ pid: Int32) -> Exit? {
        var status: Int32 = 0
        guard Glibc.waitpid(pid, &status, WNOHANG) == pid else { return nil }
        let signal = status & 0x7f
        return signal == 0 ? Exit(status: (status >> 8) & 0xff, signalled: false) : Exit(status: signal, signalled: true)
    }

    /// Sends `signal` (SIGTERM unless told) and returns at once.
    public func signal(_ signal: Int32 = SIGTERM) {
        guard isRunning, pid > 0 else { return }
        _ = Glibc.kill(pid, signal)
    }

    /// Sends `signal` and waits until the process has ended.
    @discardableResult
    public func stop(_ signal: Int32 = SIGTERM) async -> Exit {
        self.signal(signal)
        return await exit()
    }

    /// Waits until the process ends, at most `timeout`; then SIGKILLs it and waits for that.
    /// Returns the exit and whether the time ran out.
    public func exit(within timeout: Duration) async -> (exit: Exit, timedOut: Bool) {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do { try await Task.sleep(for: timeout) } catch { return false }  // cancelled: it ended in time
                let late = self.isRunning
                self.signal(SIGKILL)
                return late
            }
            let exit = await self.exit()
            group.cancelAll()
            let timedOut = await group.next() ?? false
            return (exit, timedOut)
        }
    }

    deinit {
        // A test that threw before stopping its child: do not leave it running. Signal only: a
        // deinit cannot wait, and Foundation reaps the child.
        // (pid 0 would signal our whole process group: only a launched child is signalled.)
        let pid = process.processIdentifier
        if pid > 0, ended.state.withLock({ $0 == nil }) { _ = Glibc.kill(pid, SIGKILL) }
    }
}

/// How a child ended: shared with the termination handler (a box, so the handler does not keep the
/// ``ChildProcess`` alive).
final class Ended: Sendable {
    let state = Mutex<ChildProcess.Exit?>(nil)

    /// Records how the child ended; the first report wins (Foundation's handler, or a reap by
    /// ``ChildProcess/exit()``, after which Foundation's own wait finds nothing and reports 0).
    func finish(_ exit: ChildProcess.Exit) {
        state.withLock { state in
            if state == nil { state = exit }
        }
    }
}

/// Bytes a child writes to a pipe, read to the end on a thread of their own.
///
/// A plain thread blocked in `read(2)` holds no thread of Swift's cooperative pool. It is not
/// `readabilityHandler`: that hands the descriptor to a dispatch source, and a pipe closed while
/// its source is still registered crashed libdispatch's event loop once in a parallel run.
public final class PipeOutput: Sendable {
    /// The pipe, for the child's side and for the reading thread: after `startReading()` only
    /// that thread reads its descriptor, and it keeps the pipe (so the descriptor) alive until
    /// end of file, so the descriptor is never closed under it.
    struct Shared: @unchecked Sendable {
        let pipe = Pipe()
    }

    let shared = Shared()
    var pipe: Pipe { shared.pipe }
    private let buffer = Buffer()

    /// The bytes so far and whether the pipe closed, shared with the reading thread.
    final class Buffer: Sendable {
        let state = Mutex<(data: Data, ended: Bool)>((Data(), false))
    }

    init() {}

    func startReading() {
        // The parent's copy of the writing end is closed by Process.run(); end of file comes when
        // the child (and anything it started that inherited the pipe) has closed it.
        let thread = Thread { [shared, buffer] in
            let fd = shared.pipe.fileHandleForReading.fileDescriptor
            var bytes = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    buffer.state.withLock { $0.data.append(contentsOf: bytes[0..<n]) }
                } else if n < 0, errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            buffer.state.withLock { $0.ended = true }
        }
        thread.name = "butler-test-pipe"
        thread.start()
    }

    /// Everything read so far, as UTF-8.
    public var text: String { buffer.state.withLock { String(decoding: $0.data, as: UTF8.self) } }

    /// Whether the writer closed the pipe (every byte has been read).
    public var ended: Bool { buffer.state.withLock { $0.ended } }

    /// Waits until the pipe is closed, polling every 5 ms, at most `timeout` (a grandchild may hold
    /// it open); returns whether it closed.
    @discardableResult
    public func end(within timeout: Duration = .seconds(5)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !ended, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return ended
    }

    /// Waits until the output contains `text`, polling every 10 ms, at most `timeout`, or until
    /// `stopWaiting()` returns true; returns whether it appeared.
    public func wait(for text: String, within timeout: Duration, unless stopWaiting: () -> Bool = { false }) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if self.text.contains(text) { return true }
            if stopWaiting() || ended { return self.text.contains(text) }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return self.text.contains(text)
    }
}
