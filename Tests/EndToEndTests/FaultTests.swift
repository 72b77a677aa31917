import ButlerClient
import ButlerModel
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Kills, cuts and restarts: nothing acknowledged is lost or duplicated. Every loop is bounded in
/// count and time, and all traffic stays on 127.0.0.1.
@Suite("End to end: faults", .serialized)
struct FaultTests {
    /// Issue 4: kill -9 the server during a push storm; after restart clients finish with nothing lost or duplicated.
    @Test("server killed with SIGKILL during a push storm: after restart nothing is lost or duplicated")
    func serverKilledDuringPushStorm() async throws {
        let scratch = Scratch("storm")
        let server = ServerProcess(data: scratch.url.appendingPathComponent("server"))
        let zone = try Zone("east-3")
        var devices: [(store: ClientStore, engine: SyncEngine)] = []
        for n in 0..<4 {
            let token = try server.addDevice("d\(n)", role: "butler", zones: "east-3")
            let store = try ClientStore.open(home: scratch.url.appendingPathComponent("d\(n)"))
            try store.initialize(name: "管家\(n)", serverURL: "http://127.0.0.1:1", token: token)
            devices.append((store, SyncEngine(store: store, transport: ServerTransport(server: server, token: token))))
        }
        try server.start()
        // Shared records every device writes to.
        let order = try devices[0].store.createWorkOrder(zone: zone, place: "B1", category: .general, description: nil)
        let form = try devices[0].store.createForm(template: "building-patrol", zone: zone, place: "3号楼")
        _ = try await devices[0].engine.sync()
        for d in devices.dropFirst() { _ = try await d.engine.sync() }

        let logged = Tally()
        let stormEnd = ContinuousClock.now + .seconds(20)
        var kills = 0
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (n, device) in devices.enumerated() {
                group.addTask {
                    var step = 0
                    while step < 60, ContinuousClock.now < stormEnd {
                        step += 1
                        try device.store.logCallback(workOrder: order, channel: .phone, reached: false, satisfaction: nil, note: "d\(n)-\(step)")
                        try device.store.addNote(form: form, item: "hygiene", text: "d\(n)-\(step)")
                        logged.increment()
                        do { _ = try await device.engine.sync() } catch let error as ClientError where error.isTransient {
                            try await Task.sleep(for: .milliseconds(20))
                        }
                    }
                }
            }
            // The killer: SIGKILL the server at random moments, restart it on the same port.
            while kills < 5, ContinuousClock.now < stormEnd {
                try await Task.sleep(for: .milliseconds(Int.random(in: 150...600)))
                server.kill()
                kills += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 50...300)))
                try server.start()
            }
            try await group.waitForAll()
        }
        #expect(kills >= 3)
        print("FAULT-REPORT server-sigkill injected=\(kills)")
        // Everyone finishes syncing (bounded retries), twice round so all see all.
        for _ in 0..<2 {
            for device in devices {
                var attempt = 0
                while true {
                    do {
                        _ = try await device.engine.sync()
                        break
                    } catch let error as ClientError where error.isTransient && attempt < 20 {
                        attempt += 1
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
            }
        }
        let total = logged.count
        print("FAULT-REPORT server-sigkill acknowledged=\(total)")
        let hashes = try devices.map { try $0.store.allRecords().map(\.contentHash) }
        #expect(Set(hashes.map { $0.joined() }).count == 1, "all replicas converge")
        let callbacks = try #require(try devices[3].store.callbacks(workOrder: order))
        #expect(callbacks.attempts.count == total, "every acknowledged attempt exactly once")
        #expect(Set(callbacks.attempts.compactMap(\.note)).count == total)
        let notes = try devices[2].store.form(form).items["hygiene"]?.notes ?? []
        #expect(notes.count == total && Set(notes.map(\.text)).count == total)
        for device in devices { #expect(try device.store.status().pendingEdits == 0) }
        server.stop()
    }

    /// Issue 3: a photo upload cut midway resumes and sends only the missing bytes.
    @Test("an upload cut off midway resumes with only the missing bytes")
    func uploadResume() async throws {
        let scratch = Scratch("resume")
        let server = ServerProcess(data: scratch.url.appendingPathComponent("server"))
        let token = try server.addDevice("li", role: "butler", zones: "east-3")
        try server.start()
        let store = try ClientStore.open(home: scratch.url.appendingPathComponent("li"))
        try store.initialize(name: "李管家", serverURL: server.url, token: token)
        let form = try store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "p")
        let file = scratch.url.appendingPathComponent("big.jpg")
        let size = 24_000_000
        try writePhoto(file, bytes: size, seed: 42)
        let sha = try store.attachPhoto(form: form, file: file, item: "tiles")
        var config = SyncEngine.Configuration()
        config.uploadChunkSize = Int64(size)  // one request: the cut lands mid-request
        let transport = CurlTransport(configuration: .init(baseURL: server.url, token: token))
        let engine = SyncEngine(store: store, transport: transport, configuration: config)

        // Cut the transfer once a third has gone out.
        let upload = Task {
            try await engine.upload(sha256: sha, size: Int64(size)) { progress in
                if progress.bytes > Int64(size / 3) { withUnsafeCurrentTask { $0?.cancel() } }
            }
        }
        let cutAt = ContinuousClock.now
        while !upload.isCancelled, ContinuousClock.now - cutAt < .seconds(30) {
            try await Task.sleep(for: .milliseconds(5))
            if try await transport.blobStatus(sha256: sha).received > Int64(size / 3) { upload.cancel() }
        }
        _ = await upload.result
        // Wait until the server has written everything of the cut request that reached it.
        var held = try await transport.blobStatus(sha256: sha)
        for _ in 0..<50 {
            try await Task.sleep(for: .milliseconds(200))
            let again = try await transport.blobStatus(sha256: sha)
            if again == held { break }
            held = again
        }
        #expect(!held.complete)
        #expect(held.received > 0 && held.received < Int64(size), "the server kept what arrived: \(held.received)")

        let sent = try await engine.upload(sha256: sha, size: Int64(size))
        #expect(sent == Int64(size) - held.received, "the second attempt sent only the missing bytes")
        let done = try await transport.blobStatus(sha256: sha)
        #expect(done.complete && done.received == Int64(size))
        // A third attempt sends nothing: the blob is never sent twice.
        #expect(try await engine.upload(sha256: sha, size: Int64(size)) == 0)
        server.stop()
    }
}

/// A transport that always talks to the server's current port (it changes when a test restarts it).
struct ServerTransport: SyncTransport {
    let server: ServerProcess
    let token: String

    func transport() -> CurlTransport {
        var config = CurlTransport.Configuration(baseURL: server.url, token: token)
        config.connectTimeout = .seconds(1)
        config.requestTimeout = .seconds(10)
        return CurlTransport(configuration: config)
    }

    func device() async throws -> DeviceInfo { try await transport().device() }
    func issueReplica() async throws -> ReplicaID { try await transport().issueReplica() }
    func push(_ request: PushRequest) async throws -> PushResponse { try await transport().push(request) }
    func pull(cursor: String?, limit: Int) async throws -> PullResponse { try await transport().pull(cursor: cursor, limit: limit) }
    func record(id: RecordID) async throws -> RecordState? { try await transport().record(id: id) }
    func blobStatus(sha256: String) async throws -> BlobStatus { try await transport().blobStatus(sha256: sha256) }
    func uploadBlob(sha256: String, file: URL, offset: Int64, count: Int64, length: Int64, sent: @escaping @Sendable (Int64) -> Void) async throws -> BlobStatus {
        try await transport().uploadBlob(sha256: sha256, file: file, offset: offset, count: count, length: length, sent: sent)
    }
    func downloadBlob(sha256: String, to file: URL, from offset: Int64) async throws -> Int64 {
        try await transport().downloadBlob(sha256: sha256, to: file, from: offset)
    }
}

/// A counter shared by concurrent test tasks.
final class Tally: Sendable {
    private let value = Atomic<Int>(0)
    func increment() { value.add(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}
