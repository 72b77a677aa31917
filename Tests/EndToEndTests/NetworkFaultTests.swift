import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// Issue 8: the network fails the way coverage fails in stairwells — cut mid-transfer, dead but not
/// closed, slow. A proxy on 127.0.0.1 between a real client and a real server does the failing.
@Suite("End to end: network faults", .serialized)
struct NetworkFaultTests {
    struct Setup {
        let scratch: Scratch
        let server: ServerProcess
        let proxy: FaultProxy
        let store: ClientStore
        let token: String
        let form: RecordID

        func engine(chunk: Int64 = 1 << 20, configure: (inout CurlTransport.Configuration) -> Void = { _ in }) -> SyncEngine {
            var config = CurlTransport.Configuration(baseURL: proxy.url, token: token)
            config.connectTimeout = .seconds(2)
            config.requestTimeout = .seconds(20)
            configure(&config)
            var engineConfig = SyncEngine.Configuration()
            engineConfig.uploadChunkSize = chunk
            engineConfig.pushBatchSize = 50
            return SyncEngine(store: store, transport: CurlTransport(configuration: config), configuration: engineConfig)
        }

        /// Reads the server's state through a second device that talks to it directly.
        func checker() async throws -> ClientStore {
            let token = try await server.addDevice("checker-\(UUID().uuidString.prefix(6))", role: .supervisor, zones: ["east-3"])
            let store = try ClientStore.open(home: scratch.url.appendingPathComponent("checker-\(UUID().uuidString.prefix(6))"))
            try store.initialize(name: "checker", serverURL: server.url, token: token)
            _ = try await SyncEngine(store: store, transport: CurlTransport(configuration: .init(baseURL: server.url, token: token))).sync()
            return store
        }
    }

    static func setup(_ name: String) async throws -> Setup {
        let cluster = try await Cluster.processes(name)
        let (scratch, server) = (cluster.scratch, cluster.node)
        let token = try await server.addDevice("li", role: .butler, zones: ["east-3"])
        let proxy = try FaultProxy(upstreamPort: server.port)
        let store = try ClientStore.open(home: scratch.url.appendingPathComponent("li"))
        try store.initialize(name: "李管家", serverURL: proxy.url, token: token)
        let form = try store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "B2 车库")
        return Setup(scratch: scratch, server: server, proxy: proxy, store: store, token: token, form: form)
    }

    @Test("connections cut at random byte offsets: edits and photo uploads resume and finish, nothing lost or doubled")
    func cutAtRandomOffsets() async throws {
        let s = try await Self.setup("cuts")
        defer { s.proxy.close(); s.server.terminate() }
        for n in 0..<300 { try s.store.addNote(form: s.form, item: n % 2 == 0 ? "tiles" : "hygiene", text: "n\(n)") }
        var photos: [String] = []
        for n in 0..<2 {
            let file = s.scratch.url.appendingPathComponent("p\(n).jpg")
            try writePhoto(file, bytes: 6_000_000, seed: UInt64(n + 50))
            photos.append(try s.store.attachPhoto(form: s.form, file: file, item: "walls-ceiling"))
        }
        let engine = s.engine()
        var attempts = 0
        var synced = false
        while !synced, attempts < 60 {
            attempts += 1
            // Until six connections were cut, every connection of an attempt dies somewhere between
            // 500 B and 1 MB in (log-uniform, so small pushes and big chunks are both hit).
            s.proxy.mode = s.proxy.cuts < 6 ? .cutAfter(Int(exp(Double.random(in: log(500.0)...log(1_000_000.0))))) : .pass
            do {
                _ = try await engine.sync()
                synced = true
            } catch let error as ClientError where error.isTransient || error.code == .badResponse {
                continue
            }
        }
        #expect(synced, "synced after \(attempts) attempts")
        print("FAULT-REPORT network-cut injected=\(s.proxy.cuts) attempts=\(attempts)")
        #expect(s.proxy.cuts >= 5, "the proxy cut \(s.proxy.cuts) connections in \(attempts) attempts, forwarded \(s.proxy.forwarded) B over \(s.proxy.connectionCount) connections")
        #expect(try s.store.status().pendingEdits == 0 && s.store.status().pendingPhotoBytes == 0)
        // Resuming never re-sent whole photos: at most one 1 MiB chunk per cut went twice.
        #expect(s.proxy.forwarded < 12_000_000 + s.proxy.cuts * (1 << 20) + 3_000_000, "forwarded \(s.proxy.forwarded) bytes")
        let checker = try await s.checker()
        let view = try checker.form(s.form)
        let notes = (view.items["tiles"]?.notes ?? []) + (view.items["hygiene"]?.notes ?? [])
        #expect(notes.count == 300 && Set(notes.map(\.text)).count == 300, "every note exactly once")
        #expect(view.items["walls-ceiling"]?.photos.sorted() == photos.sorted())
        for sha in photos { #expect(FileManager.default.fileExists(atPath: checker.blobURL(sha).path)) }
        // A request cut mid-body is the network's doing, not a server failure: no 500 is logged.
        let failures = s.server.log.split(separator: "\n").filter { $0.contains("request failed") }
        #expect(failures.isEmpty, "the server answered a cut request with a 500: \(failures.prefix(2))")
    }

    @Test("a dead link (stalled, not closed) times out promptly; the next sync completes")
    func stalledLink() async throws {
        let s = try await Self.setup("stall")
        defer { s.proxy.close(); s.server.terminate() }
        try s.store.setResult(form: s.form, item: "tiles", result: .defect)
        let engine = s.engine { config in
            config.requestTimeout = .seconds(4)
            config.lowSpeedTime = .seconds(2)
            config.lowSpeedBytesPerSecond = 100
        }
        s.proxy.mode = .stall
        let started = ContinuousClock.now
        do {
            _ = try await engine.sync()
            Issue.record("a stalled link must not sync")
        } catch let error as ClientError {
            #expect(error.isTransient, "\(error)")
        }
        #expect(ContinuousClock.now - started < .seconds(15), "gave up promptly")
        s.proxy.mode = .pass
        _ = try await engine.sync()
        #expect(try s.store.status().pendingEdits == 0)
    }

    @Test("a slow link with latency (256 KB/s, +20 ms per chunk) still syncs edits and a photo")
    func slowLink() async throws {
        let s = try await Self.setup("slow")
        defer { s.proxy.close(); s.server.terminate() }
        for n in 0..<50 { try s.store.addNote(form: s.form, item: "fire-door", text: "slow \(n)") }
        let file = s.scratch.url.appendingPathComponent("slow.jpg")
        try writePhoto(file, bytes: 1_000_000, seed: 77)
        let sha = try s.store.attachPhoto(form: s.form, file: file, item: "fire-door")
        s.proxy.mode = .throttle(bytesPerSecond: 256 * 1024, latencyMilliseconds: 20)
        let started = ContinuousClock.now
        _ = try await s.engine(chunk: 256 * 1024).sync()
        #expect(ContinuousClock.now - started < .seconds(60))
        #expect(try s.store.status().pendingEdits == 0 && s.store.status().pendingPhotoBytes == 0)
        let checker = try await s.checker()
        #expect(try checker.form(s.form).items["fire-door"]?.notes.count == 50)
        #expect(FileManager.default.fileExists(atPath: checker.blobURL(sha).path))
    }
}
