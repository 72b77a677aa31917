@testable import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import GRDB
import Synchronization
import Testing

/// Issue 15's faster catch-up: a record the device did not hold is stored as the bytes the server
/// sent (decoded and checked first); a record it holds is still merged; a bad page stores nothing
/// of itself; the next page is fetched while the last is stored, and a failure on either side
/// leaves the stored pages and their cursor consistent. Against the real router, in process.
@Suite("Pull catch-up: received bytes stored as they are, pipelined pages")
struct PullCatchUpTests {
    let zone = try! Zone("east-3")

    /// The bytes a store holds for record `id` (plain: these stores have no device key).
    static func storedBytes(_ store: ClientStore, _ id: RecordID) throws -> [UInt8]? {
        try store.read { db in try Data.fetchOne(db, sql: "SELECT state FROM records WHERE id = ?", arguments: [id.rawValue]) }.map { [UInt8]($0) }
    }

    /// `n` work orders made on `handheld` and pushed; their ids.
    static func seed(_ handheld: Handheld, _ n: Int, zone: Zone) async throws -> [RecordID] {
        let ids = try (0..<n).map { try handheld.store.createWorkOrder(zone: zone, place: "\($0)号楼", category: .general, description: "灯坏") }
        let report = try await handheld.engine.sync()
        #expect(report.pushed == n)
        return ids
    }

    /// The server's whole feed for `transport`'s device, as the bytes of each change by record.
    static func serverEncodings(_ transport: any SyncTransport) async throws -> [RecordID: [UInt8]] {
        var found: [RecordID: [UInt8]] = [:]
        var cursor: String?
        while true {
            let page = try await transport.pull(cursor: cursor, limit: 100)
            for (index, change) in page.changes.enumerated() { found[change.id] = Array(try #require(page.received[index])) }
            cursor = page.cursor
            if !page.more { return found }
        }
    }

    @Test("§ pull: a record the device did not hold is stored byte for byte as the server's canonical encoding", arguments: Backend.available)
    func storedAsReceived(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "pull-bytes") { cluster in
            let li = try await cluster.handheld("li", displayName: "李管家")
            let wang = try await cluster.handheld("wang", displayName: "王管家")
            let orders = try await Self.seed(li, 3, zone: zone)
            let form = try li.store.createForm(template: "building-patrol", zone: zone, place: "3号楼 楼梯间")
            try li.store.setResult(form: form, item: "fire-door", result: .defect, note: "闭门器\n损坏 \"急\"")
            _ = try await li.engine.sync()
            let report = try await wang.engine.sync()
            #expect(report.pulled == 4)
            let server = try await Self.serverEncodings(wang.transport)
            #expect(server.count == 4)
            for id in orders + [form] {
                let stored = try #require(try Self.storedBytes(wang.store, id))
                #expect(stored == server[id], "record \(id) is stored as the server sent it")
                #expect(stored == (try #require(try wang.store.record(id))).canonicalJSON, "and that is its canonical encoding")
            }
            #expect(try wang.store.form(form).items["fire-door"]?.result == .defect)
        }
    }

    @Test("§ pull: a page holding a record the device holds, with an edit not pushed yet, is merged and keeps the local edit", arguments: Backend.available)
    func mergesHeldRecord(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "pull-merge") { cluster in
            let li = try await cluster.handheld("li", displayName: "李管家")
            let wang = try await cluster.handheld("wang", displayName: "王管家")
            let form = try li.store.createForm(template: "building-patrol", zone: zone, place: "5号楼 大堂")
            _ = try await li.engine.sync()
            _ = try await wang.engine.sync()
            // Wang edits offline; Li's edit of the same form reaches the server meanwhile.
            try wang.store.setResult(form: form, item: "tiles", result: .defect, note: "地砖松动")
            try li.store.setResult(form: form, item: "fire-door", result: .ok)
            let fresh = try li.store.createWorkOrder(zone: zone, place: "B1", category: .general, description: "漏水")
            _ = try await li.engine.sync()
            let pending = try wang.store.status().pendingEdits
            #expect(pending >= 1)
            var report = SyncReport()
            try await wang.engine.pull(into: &report)
            #expect(report.pulled == 2)
            let merged = try wang.store.form(form)
            #expect(merged.items["tiles"]?.result == .defect, "the local edit stays")
            #expect(merged.items["fire-door"]?.result == .ok, "the pulled edit is merged in")
            #expect(try wang.store.status().pendingEdits == pending, "the local edit still waits to be pushed")
            #expect(try Self.storedBytes(wang.store, form) == (try #require(try wang.store.record(form))).canonicalJSON)
            #expect(try wang.store.record(fresh) != nil)
            // Pushed, both edits are on the server and Li gets Wang's.
            _ = try await wang.engine.sync()
            _ = try await li.engine.sync()
            #expect(try li.store.form(form).items["tiles"]?.result == .defect)
            #expect(try li.store.record(form) == wang.store.record(form))
        }
    }

    @Test("§ pull: a bad page is refused whole: nothing of it is stored and the cursor stays", arguments: Backend.available)
    func badPageStoresNothing(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "pull-bad") { cluster in
            let li = try await cluster.handheld("li", displayName: "李管家")
            let wang = try await cluster.handheld("wang", displayName: "王管家")
            let held = try await Self.seed(li, 1, zone: zone)[0]
            _ = try await wang.engine.sync()
            let cursor = try wang.store.cursor()
            let fresh = try await Self.seed(li, 1, zone: zone)[0]
            let server = try await Self.serverEncodings(wang.transport)
            let heldText = String(decoding: try #require(server[held]), as: UTF8.self)
            let freshText = String(decoding: try #require(server[fresh]), as: UTF8.self)
            // A forged state of a record the device holds: the same id in another zone.
            let forged = heldText.replacingOccurrences(of: #""zone":"east-3""#, with: #""zone":"west-9""#)
            #expect(forged != heldText)
            // Broken JSON: a state cut short.
            let truncated = String(freshText.dropLast(3))
            for (label, body) in [
                ("forged", #"{"changes":[\#(freshText),\#(forged)],"cursor":"999999","more":false}"#),
                ("truncated", #"{"changes":[\#(freshText),\#(truncated)],"cursor":"999999","more":false}"#),
            ] {
                let engine = SyncEngine(store: wang.store, transport: ScriptedPullTransport(wang.transport, pages: [Array(body.utf8)]))
                var report = SyncReport()
                await #expect(throws: ClientError.self, "\(label) page") { try await engine.pull(into: &report) }
                #expect(try wang.store.record(fresh) == nil, "\(label): the page's valid record is not stored either")
                #expect(try wang.store.cursor() == cursor, "\(label): the cursor did not move")
                #expect(try wang.store.record(held)?.zone == zone)
            }
            // The real feed then brings the record.
            var report = SyncReport()
            try await wang.engine.pull(into: &report)
            #expect(report.pulled == 1)
            #expect(try Self.storedBytes(wang.store, fresh) == server[fresh])
        }
    }

    @Test("§ pull: valid but not canonical bytes are stored as the state's canonical encoding, never as they came", arguments: Backend.available)
    func nonCanonicalReencoded(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "pull-canonical") { cluster in
            let li = try await cluster.handheld("li", displayName: "李管家")
            let wang = try await cluster.handheld("wang", displayName: "王管家")
            let id = try await Self.seed(li, 1, zone: zone)[0]
            let canonical = String(decoding: try #require(try await Self.serverEncodings(wang.transport)[id]), as: UTF8.self)
            // White space, and an entry member this build ignores: both decode to the same state.
            let loose = "{ " + canonical.dropFirst().replacingOccurrences(of: #"{"by":"#, with: #"{"note":"x","by":"#)
            let body = #"{"changes":[\#(loose)],"cursor":"999999","more":false}"#
            let page = try ServerReply(status: 200, body: Array(body.utf8)).pullPage()
            let arrived = Array(try #require(page.received[0]))
            #expect(page.changes.count == 1 && arrived != Array(canonical.utf8))
            let engine = SyncEngine(store: wang.store, transport: ScriptedPullTransport(wang.transport, pages: [Array(body.utf8)]))
            var report = SyncReport()
            try await engine.pull(into: &report)
            #expect(try Self.storedBytes(wang.store, id) == Array(canonical.utf8))
            #expect(try wang.store.cursor() == "999999")
        }
    }

    @Test("§ pull: a failure fetching page N+1 leaves pages up to N stored with N's cursor; the next pull resumes there", arguments: Backend.available)
    func failedFetchKeepsStoredPages(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "pull-fail") { cluster in
            let li = try await cluster.handheld("li", displayName: "李管家")
            let wang = try await cluster.handheld("wang", displayName: "王管家")
            let ids = try await Self.seed(li, 23, zone: zone)
            var paging = SyncEngine.Configuration()
            paging.pullPageSize = 5
            let failing = FailingPullTransport(wang.transport, failAt: 3)
            var report = SyncReport()
            await #expect(throws: ClientError.self) {
                try await SyncEngine(store: wang.store, transport: failing, configuration: paging).pull(into: &report)
            }
            #expect(report.pulled == 10, "pages 1 and 2 stored: \(report)")
            #expect(try wang.store.cursor() == failing.cursors[1], "with page 2's cursor")
            #expect(try wang.store.allRecords().count == 10)
            var resumed = SyncReport()
            try await SyncEngine(store: wang.store, transport: wang.transport, configuration: paging).pull(into: &resumed)
            #expect(resumed.pulled == 13, "the rest, nothing twice")
            #expect(Set(try wang.store.allRecords().map(\.id)) == Set(ids))
            #expect(try wang.store.allRecords().map(\.contentHash) == li.store.allRecords().map(\.contentHash))
        }
    }

    @Test("§ pull: a catch-up interrupted at every page in turn ends with every record once and the server's bytes", arguments: Backend.available)
    func interruptedCatchUpResumes(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "pull-resume") { cluster in
            let li = try await cluster.handheld("li", displayName: "李管家")
            let wang = try await cluster.handheld("wang", displayName: "王管家")
            let ids = try await Self.seed(li, 31, zone: zone)
            var paging = SyncEngine.Configuration()
            paging.pullPageSize = 4
            // Attempt k fails on its k-th request: every page boundary is cut once.
            var total = 0
            var attempts = 0
            for failAt in 1...12 {
                attempts += 1
                var report = SyncReport()
                do {
                    try await SyncEngine(store: wang.store, transport: FailingPullTransport(wang.transport, failAt: failAt), configuration: paging)
                        .pull(into: &report)
                    total += report.pulled
                    break
                } catch let error as ClientError {
                    #expect(error.code == .unreachable)
                    total += report.pulled
                }
            }
            #expect(attempts < 12, "the catch-up finished")
            #expect(total == ids.count, "every change applied once across the attempts: \(total)")
            let server = try await Self.serverEncodings(wang.transport)
            #expect(Set(try wang.store.allRecords().map(\.id)) == Set(ids))
            for id in ids { #expect(try Self.storedBytes(wang.store, id) == server[id]) }
        }
    }
}

/// Answers pulls with the given page bodies (through the same reply parsing as the wire); the
/// rest goes to `base`.
final class ScriptedPullTransport: ForwardingTransport {
    let base: any SyncTransport
    private let pages: Mutex<[[UInt8]]>
    init(_ base: any SyncTransport, pages: [[UInt8]]) {
        self.base = base
        self.pages = Mutex(pages)
    }

    func pull(cursor: String?, limit: Int) async throws -> PullResponse {
        let body = pages.withLock { $0.isEmpty ? nil : $0.removeFirst() }
        guard let body else { return try await base.pull(cursor: cursor, limit: limit) }
        return try ServerReply(status: 200, body: body).pullPage()
    }
}

/// Fails its `failAt`-th pull (counting from 1) as a lost connection; records the cursors of the
/// pages it delivered.
final class FailingPullTransport: ForwardingTransport {
    let base: any SyncTransport
    let failAt: Int
    private let state = Mutex<(calls: Int, cursors: [String])>((0, []))
    init(_ base: any SyncTransport, failAt: Int) {
        self.base = base
        self.failAt = failAt
    }

    var cursors: [String] { state.withLock { $0.cursors } }

    func pull(cursor: String?, limit: Int) async throws -> PullResponse {
        let call = state.withLock { $0.calls += 1; return $0.calls }
        if call == failAt { throw ClientError(.unreachable, "connection lost (test)") }
        let page = try await base.pull(cursor: cursor, limit: limit)
        state.withLock { $0.cursors.append(page.cursor) }
        return page
    }
}
