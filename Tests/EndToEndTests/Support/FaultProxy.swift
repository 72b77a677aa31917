import ButlerTestSupport
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 that sits between a client and a server and misbehaves on demand:
/// it cuts connections after a number of bytes, stalls them, or slows them to a bandwidth with
/// added latency. Blocking sockets on plain threads; every connection is bounded by the test.
final class FaultProxy: Sendable {
    enum Mode: Sendable, Equatable {
        /// Forward everything.
        case pass
        /// Close a connection once this many client→server bytes went through it.
        case cutAfter(Int)
        /// Forward nothing (the link is dead but not closed).
        case stall
        /// At most this many bytes per second each way, plus this delay per chunk.
        case throttle(bytesPerSecond: Int, latencyMilliseconds: Int)
    }

    let port: Int
    private let upstreamPort: Int
    private let listener: Int32
    private let state = Mutex<(mode: Mode, connections: Int, cuts: Int, forwarded: Int)>((.pass, 0, 0, 0))

    init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = FaultProxy.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 64) == 0 else { throw TestFailure("proxy cannot listen: errno \(errno)") }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        listener = fd
        port = Int(UInt16(bigEndian: actual.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    var url: String { "http://127.0.0.1:\(port)" }
    var mode: Mode {
        get { state.withLock { $0.mode } }
        set { state.withLock { $0.mode = newValue } }
    }
    /// Connections cut so far.
    var cuts: Int { state.withLock { $0.cuts } }
    /// Connections accepted so far.
    var connectionCount: Int { state.withLock { $0.connections } }
    /// Client→server bytes forwarded so far.
    var forwarded: Int { state.withLock { $0.forwarded } }

    func close() { shutdown(listener, Int32(SHUT_RDWR)); Glibc.close(listener) }

    static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = FaultProxy.loopback(port: UInt16(upstreamPort))
            let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard connected == 0 else {
                Glibc.close(client)
                Glibc.close(upstream)
                continue
            }
            state.withLock { $0.connections += 1 }
            let link = Link(client: client, upstream: upstream)
            Thread { [self] in pump(from: client, to: upstream, link: link, counts: true) }.start()
            Thread { [self] in pump(from: upstream, to: client, link: link, counts: false) }.start()
        }
    }

    /// One connection's two sockets; closed once, by whichever side ends first.
    final class Link: Sendable {
        let client: Int32
        let upstream: Int32
        private let closed = Atomic<Bool>(false)
        private let sent = Atomic<Int>(0)
        init(client: Int32, upstream: Int32) {
            self.client = client
            self.upstream = upstream
        }
        func add(_ n: Int) -> Int { sent.add(n, ordering: .relaxed).newValue }
        var total: Int { sent.load(ordering: .relaxed) }
        func close() {
            guard !closed.exchange(true, ordering: .relaxed) else { return }
            shutdown(client, Int32(SHUT_RDWR))
            shutdown(upstream, Int32(SHUT_RDWR))
            Glibc.close(client)
            Glibc.close(upstream)
        }
    }

    private func pump(from source: Int32, to target: Int32, link: Link, counts: Bool) {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = read(source, &buffer, buffer.count)
            guard n > 0 else { link.close(); return }
            var chunk = n
            switch mode {
            case .pass:
                break
            case .stall:
                // Hold the bytes until the mode changes (bounded: the test changes it within seconds).
                for _ in 0..<600 where mode == .stall { usleep(50_000) }
            case .cutAfter(let limit):
                if counts {
                    let before = link.total
                    if before + n >= limit {
                        chunk = max(0, limit - before)
                        if chunk > 0 { _ = writeAll(target, buffer, chunk) }
                        state.withLock { $0.cuts += 1; $0.forwarded += chunk }
                        link.close()
                        return
                    }
                }
            case .throttle(let rate, let latency):
                usleep(UInt32(latency * 1000 + n * 1_000_000 / max(1, rate)))
            }
            if counts {
                _ = link.add(chunk)
                state.withLock { $0.forwarded += chunk }
            }
            guard writeAll(target, buffer, chunk) else { link.close(); return }
        }
    }

    private func writeAll(_ fd: Int32, _ buffer: [UInt8], _ count: Int) -> Bool {
        var offset = 0
        while offset < count {
            let w = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + offset, count - offset) }
            guard w > 0 else { return false }
            offset += w
        }
        return true
    }
}
