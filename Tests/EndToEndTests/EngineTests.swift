import ButlerClient
import ButlerModel
import ButlerServer
import ButlerTestSupport
import Foundation
import Synchronization
import Testing

/// The sync engine's own behaviour against the real server router, in process, on each backend:
/// bounded push batches and pull pages, per-edit refusals, held edits, and two uploads of one
/// photo racing. No processes: what is tested is the engine and the protocol, not the sockets.
@Suite("Sync engine: batching, paging, refusals and upload races")
struct EngineTests {
    let zone = try! Zone("east-3")

    @Test("pushes go in batches of at most pushBatchSize deltas and pulls in pages of pullPageSize; every store converges", arguments: Backend.available)
    func batchesAndPages(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "batches") { cluster in
            var pushing = SyncEngine.Configuration()
            pushing.pushBatchSize = 50
            let li = try await cluster.handheld("li", displayName: "李管家", engine: pushing)
            let wang = try await cluster.handheld("wang", displayName: "王管家")
            let zone = try Zone("east-3")
            for n in 0..<20 {
                let form = try li.store.createForm(template: "building-patrol", zone: zone, place: "\(n)号楼")
                for k in 0..<9 { try li.store.addNote(form: form, item: "hygiene", text: "n\(n)-\(k)") }
            }
            let counted = CountingTransport(li.transport)
            let report = try await SyncEngine(store: li.store, transport: counted, configuration: pushing).sync()
            #expect(report.pushed == 200 && report.refused == 0)
            #expect(counted.pushes.count >= 4, "200 deltas in batches of at most 50: \(counted.pushes)")
            #expect(counted.pushes.allSatisfy { $0 <= 50 }, "no push over 50 entries: \(counted.pushes)")
            #expect(try li.store.status().pendingEdits == 0)

            var paging = SyncEngine.Configuration()
            paging.pullPageSize = 7
            let reading = CountingTransport(wang.transport)
            let pulled = try await SyncEngine(store: wang.store, transport: reading, configuration: paging).sync()
            #expect(pulled.pulled >= 20)
            #expect(reading.pulls >= 3, "20 records in pages of 7: \(reading.pulls) pages")
            #expect(try wang.store.allRecords().map(\.contentHash) == li.store.allRecords().map(\.contentHash))
        }
    }

    @Test("a review from a handheld that thinks it is a supervisor's is refused alone; the rest lands in the same sync", arguments: Backend.available)
    func refusedAlone(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "refused") { cluster in
            let li = try await cluster.handheld("li", displayName: "李管家")
            let wang = try await cluster.handheld("wang", displayName: "王管家")
            // A stale role (this handheld was a supervisor's) lets the review into the outbox.
            try li.store.setDeviceInfo(DeviceInfo(name: "li", role: .supervisor, zones: [zone]))
            let form = try li.store.createForm(template: "building-patrol", zone: zone, place: "3号楼2单元 楼梯间")
            try li.store.setResult(form: form, item: "fire-door", result: .defect, note: "闭门器损坏")
            try li.store.submit(form: form)
            try li.store.review(form: form, note: "误操作")
            let report = try await li.engine.sync()
            #expect((report.pushed, report.refused, report.held) == (3, 1, 0), "\(report)")
            let refused = try li.store.refusedEdits()
            #expect(refused.map(\.code) == ["role-forbidden"] && refused.allSatisfy(\.isFinal))
            #expect(try li.engine.completion().error?.code == .editsRefused)
            _ = try await wang.engine.sync()
            let seen = try wang.store.form(form)
            #expect(seen.status.state == .submitted)
            #expect(seen.items["fire-door"]?.result == .defect)
            #expect(seen.reviewNotes.isEmpty)
        }
    }

    @Test("a discard reaches the server at the next sync and ends the pending refusal; one lost on the way goes with the next sync and fails nothing; a server without the call (404) is not asked again", arguments: Backend.available)
    func discardReported(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "discard-report") { cluster in
            let storage = cluster.node.storage
            for (name, answer) in [("li", DiscardAnswer.lostOnce), ("wang", .oldServer)] {
                let handheld = try await cluster.handheld(name)
                try handheld.store.setDeviceInfo(DeviceInfo(name: name, role: .supervisor, zones: [zone]))
                let form = try handheld.store.createForm(template: "building-patrol", zone: zone, place: "3号楼2单元 楼梯间")
                try handheld.store.submit(form: form)
                try handheld.store.review(form: form, note: "误操作")
                _ = try await handheld.engine.sync()
                #expect(try await storage.pendingRefusals().filter { $0.device == name }.map(\.code) == ["role-forbidden"])
                let refused = try #require(try handheld.store.refusedEdits().first)
                try handheld.store.discardRefused(refused.id)

                let answering = DiscardAnswering(handheld.transport, answer)
                let engine = SyncEngine(store: handheld.store, transport: answering)
                switch answer {
                case .lostOnce:
                    #expect(try await engine.sync().rebased == 1, "the report only feeds the console: losing it fails nothing")
                    #expect(try await storage.pendingRefusals().filter { $0.device == name }.count == 1, "not told yet")
                    _ = try await engine.sync()
                    #expect(answering.reports == 2, "sent again after the lost one")
                    #expect(try await storage.pendingRefusals().filter { $0.device == name }.isEmpty)
                case .oldServer:
                    #expect(try await engine.sync().rebased == 1, "a 404 does not fail the sync")
                    _ = try await engine.sync()
                    #expect(answering.reports == 1, "nothing left to tell: the report is not retried")
                    #expect(try await storage.pendingRefusals().filter { $0.device == name }.count == 1, "that server never heard it")
                }
                #expect(try engine.completion().error == nil)
            }
        }
    }

    @Test("edits stamped 10 days ahead are held (clock-ahead), not refused; with the clock right they are re-stamped and land", arguments: Backend.available)
    func heldThenDelivered(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "held") { cluster in
            let ahead = try await cluster.handheld("li", displayName: "李管家", clock: SkewedClock(offset: 10 * 86_400))
            let form = try ahead.store.createForm(template: "building-patrol", zone: zone, place: "5号楼 大堂")
            try ahead.store.setResult(form: form, item: "fire-door", result: .defect, note: "消防门无法关闭")
            let first = try await ahead.engine.sync()
            #expect((first.pushed, first.refused, first.held) == (0, 0, 2), "\(first)")
            #expect(try ahead.engine.completion().error?.code == .editsHeld)
            #expect(try ahead.store.refusedEdits().map(\.code) == ["clock-ahead", "clock-ahead"])
            #expect(try ahead.store.refusedEdits().allSatisfy { !$0.isFinal })
            // The clock is put right: the same store on the real clock.
            let fixed = try ClientStore.open(home: ahead.home)
            let report = try await SyncEngine(store: fixed, transport: ahead.transport).sync()
            #expect((report.restamped, report.pushed, report.held) == (2, 2, 0), "\(report)")
            let server = try await ahead.transport.record(id: form)
            #expect(try fixed.record(form)?.canonicalJSON == (try #require(server)).canonicalJSON)
        }
    }

    @Test("two handhelds upload the same photo at once: both finish, it is stored once, and neither sends it again", arguments: Backend.available)
    func uploadRace(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "race") { cluster in
            var chunks = SyncEngine.Configuration()
            chunks.uploadChunkSize = 256 << 10
            let li = try await cluster.handheld("li", engine: chunks)
            let wang = try await cluster.handheld("wang", engine: chunks)
            let size = 3_000_000
            let file = try cluster.scratch.photo("same.jpg", bytes: size, seed: 5)
            let form = try li.store.createForm(template: "building-patrol", zone: zone, place: "B1")
            let sha = try li.store.attachPhoto(form: form, file: file, item: "tiles")
            let other = try wang.store.createForm(template: "building-patrol", zone: zone, place: "B2")
            #expect(try wang.store.attachPhoto(form: other, file: file, item: "tiles") == sha)
            // Each may lose a race (upload-in-progress, offset-mismatch) and ask again. What each
            // reports as sent is what the server held after its requests, so a chunk answered
            // "complete" because the other finished first counts for both: no sum is asserted.
            try await withThrowingTaskGroup(of: Int64.self) { group in
                for engine in [li.engine, wang.engine] { group.addTask { try await engine.upload(sha256: sha, size: Int64(size)) } }
                for try await sent in group { #expect(sent <= Int64(size)) }
            }
            let status = try await li.transport.blobStatus(sha256: sha)
            #expect(status.complete && status.received == Int64(size))
            let stored = try FileManager.default.contentsOfDirectory(atPath: cluster.node.configuration.blobDirectory.path).filter { $0 != "partial" }
            #expect(stored == [sha])
            for engine in [li.engine, wang.engine] { #expect(try await engine.upload(sha256: sha, size: Int64(size)) == 0) }
        }
    }
}

/// A transport that counts the pushes (with their sizes) and pull pages going through it.
final class CountingTransport: ForwardingTransport {
    let base: any SyncTransport
    private let counts = Mutex<(pushes: [Int], pulls: Int)>(([], 0))
    init(_ base: any SyncTransport) { self.base = base }

    var pushes: [Int] { counts.withLock { $0.pushes } }
    var pulls: Int { counts.withLock { $0.pulls } }

    func push(_ request: PushRequest) async throws -> PushResponse {
        counts.withLock { $0.pushes.append(request.deltas.count) }
        return try await base.push(request)
    }
    func pull(cursor: String?, limit: Int) async throws -> PullResponse {
        counts.withLock { $0.pulls += 1 }
        return try await base.pull(cursor: cursor, limit: limit)
    }
}

enum DiscardAnswer: Sendable { case lostOnce, oldServer }

/// Passes every call through, but answers `reportDiscarded` as a flaky link (the first report
/// lost) or a server that predates the call (404 `not-found`) would.
final class DiscardAnswering: ForwardingTransport {
    let base: any SyncTransport
    let answer: DiscardAnswer
    private let count = Mutex(0)
    init(_ base: any SyncTransport, _ answer: DiscardAnswer) {
        self.base = base
        self.answer = answer
    }

    var reports: Int { count.withLock { $0 } }

    func reportDiscarded(_ edits: DiscardedEdits) async throws -> Int {
        let n = count.withLock { $0 += 1; return $0 }
        switch answer {
        case .lostOnce where n == 1: throw ClientError(.unreachable, "simulated: the connection dropped")
        case .lostOnce: return try await base.reportDiscarded(edits)
        case .oldServer: throw ClientError(.notFound, "no route POST /v1/devices/me/discarded")
        }
    }
}
