import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process whose end and output are awaited without blocking a thread.
///
/// Started with `posix_spawn` directly, not Foundation's `Process`: on Linux, Swift 6.3's
/// `Process.run()` scans `/proc/self/fd` with a 256-byte copy of each directory entry and now and
/// then reads past the end of glibc's buffer into an unmapped page — the whole test process died of
/// SIGSEGV in `Process.run()` in CI (swift-corelibs-foundation#5472). Spawning here also closes
/// every descriptor above standard error in the child (`addclosefrom_np`), so a child never holds
/// another test's socket or pipe, and resets the signals the test process ignores or blocks.
///
/// The end is learnt by a plain thread blocked in `waitpid` on this child alone (no thread of
/// Swift's cooperative pool is held), and output is read by a plain thread of its own
/// (``PipeOutput``).
public final class ChildProcess: Sendable {
    /// How a process ended.
    public struct Exit: Sendable, Equatable {
        /// The exit status, or the signal number when `signalled`.
        public let status: Int32
        /// Whether it was ended by a signal rather than exiting.
        public let signalled: Bool
    }

    /// The child's process id.
    public let pid: Int32
    private let ended = Ended()
    /// What the process wrote to its standard output and error (when captured).
    public let stdout: PipeOutput?
    public let stderr: PipeOutput?

    /// Starts `executable` with `arguments`; the environment is this process's plus `environment`. Output not captured goes to /dev/null.
    public init(
        _ executable: URL, _ arguments: [String], environment: [String: String] = [:], captureStdout: Bool = true,
        captureStderr: Bool = true, currentDirectory: URL? = nil
    ) throws {
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        stdout = captureStdout ? PipeOutput() : nil
        stderr = captureStderr ? PipeOutput() : nil
        pid = try Spawn.run(
            executable.path, [executable.path] + arguments, environment: env.map { "\($0.key)=\($0.value)" },
            stdout: stdout?.pipe.fileHandleForWriting.fileDescriptor, stderr: stderr?.pipe.fileHandleForWriting.fileDescriptor,
            currentDirectory: currentDirectory?.path)
        // The parent's copies of the writing ends: end of file comes when the child (and anything
        // it started that inherited them) has closed its own.
        try? stdout?.pipe.fileHandleForWriting.close()
        try? stderr?.pipe.fileHandleForWriting.close()
        stdout?.startReading()
        stderr?.startReading()
        let (pid, ended) = (pid, ended)
        let waiter = Thread { ended.finish(Self.wait(pid)) }
        waiter.name = "butler-test-wait"
        waiter.start()
    }

    /// Runs `executable` to its end, blocking the calling thread, output discarded: only for the
    /// one-off probes a suite makes before it starts (whether `ip netns` is permitted). Nil when it
    /// could not be started.
    public static func runBlocking(_ executable: URL, _ arguments: [String]) -> Exit? {
        guard
            let pid = try? Spawn.run(
                executable.path, [executable.path] + arguments, environment: ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" },
                stdout: nil, stderr: nil, currentDirectory: nil)
        else { return nil }
        return wait(pid)
    }

    /// Blocks until child `pid` ends and reaps it.
    static func wait(_ pid: Int32) -> Exit {
        var status: Int32 = 0
        while Glibc.waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        return signal == 0 ? Exit(status: (status >> 8) & 0xff, signalled: false) : Exit(status: signal, signalled: true)
    }

    /// Whether it has not ended yet.
    public var isRunning: Bool { ended.state.withLock { $0 == nil } }

    /// How it ended, once it has.
    public var exitIfEnded: Exit? { ended.state.withLock { $0 } }

    /// Waits (suspending, not blocking) until the process has ended.
    public func exit() async -> Exit {
        while true {
            if let exit = exitIfEnded { return exit }
            try? await Task.sleep(for: .milliseconds(20))
        }
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
        // deinit cannot wait, and the waiting thread reaps the child.
        if pid > 0, ended.state.withLock({ $0 == nil }) { _ = Glibc.kill(pid, SIGKILL) }
    }
}

/// `posix_spawn` with what a test's child needs: standard input from /dev/null, standard output
/// and error to the given descriptors (or /dev/null), an optional working directory, every other
/// descriptor closed, default signal dispositions and an empty signal mask.
enum Spawn {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    // glibc 2.34 and 2.29: declared only under _GNU_SOURCE, which Swift's Glibc module does not
    // set, so looked up by name. Both exist on Debian 12 (glibc 2.36); without them, spawning fails.
    static let addCloseFrom: AddCloseFrom? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        .map { unsafeBitCast($0, to: AddCloseFrom.self) }
    static let addChdir: AddChdir? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np")
        .map { unsafeBitCast($0, to: AddChdir.self) }

    static func run(_ path: String, _ arguments: [String], environment: [String], stdout: Int32?, stderr: Int32?, currentDirectory: String?) throws -> Int32 {
        guard let addCloseFrom else { throw TestFailure("this C library has no posix_spawn_file_actions_addclosefrom_np (glibc ≥ 2.34)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        for (target, source) in [(Int32(1), stdout), (2, stderr)] {
            if let source {
                posix_spawn_file_actions_adddup2(&actions, source, target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            }
        }
        if let currentDirectory {
            guard let addChdir else { throw TestFailure("this C library has no posix_spawn_file_actions_addchdir_np (glibc ≥ 2.29)") }
            _ = addChdir(&actions, currentDirectory)
        }
        _ = addCloseFrom(&actions, 3)

        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard result == 0 else { throw TestFailure("cannot start \(path): \(String(cString: strerror(result)))") }
        return pid
    }
}

/// How a child ended: shared with the waiting thread (a box, so the thread does not keep the
/// ``ChildProcess`` alive).
final class Ended: Sendable {
    let state = Mutex<ChildProcess.Exit?>(nil)

    /// Records how the child ended; the first report wins.
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
        // The parent's copy of the writing end is closed once the child started; end of file comes
        // when the child (and anything it started that inherited the pipe) has closed it.
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
