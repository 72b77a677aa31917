import ButlerClient
import ButlerFiles
import ButlerModel
import ButlerTestSupport
import Foundation
import GRDB
import Synchronization
import Testing

/// The integrity check after a catch-up (`Protocol/SYNC.md` §8.3) against the real server router
/// in process, on each backend: a handheld whose store was damaged behind its back finds the
/// differing records by bucket digests, re-fetches only those, and says what it found — never a
/// silent divergence, never a full reset.
@Suite("Integrity: checksums, reconciliation and doctor")
struct IntegrityRepairTests {
    let zone = try! Zone("east-3")

    /// Counts the records fetched through the integrity routes.
    final class CountingTransport: ForwardingTransport, IntegrityTransport {
        let inner: any SyncTransport & IntegrityTransport
        var base: any SyncTransport { inner }
        let fetched = Mutex([String]())

        init(inner: any SyncTransport & IntegrityTransport) { self.inner = inner }

        func bucketDigests(zone: Zone) async throws -> BucketDigests { try await inner.bucketDigests(zone: zone) }
        func bucketHashes(zone: Zone, bucket: Int, after: String?) async throws -> BucketHashes {
            try await inner.bucketHashes(zone: zone, bucket: bucket, after: after)
        }
        func fetch(_ request: ButlerModel.FetchRequest) async throws -> FetchedRecords {
            fetched.withLock { $0 += request.ids.map(\.rawValue) }
            return try await inner.fetch(request)
        }
        func serverTime() async throws -> ServerTime { try await inner.serverTime() }
    }

    static func counting(_ handheld: Handheld) throws -> (CountingTransport, SyncEngine) {
        let inner = try #require(handheld.transport as? any SyncTransport & IntegrityTransport)
        let counting = CountingTransport(inner: inner)
        return (counting, SyncEngine(store: handheld.store, transport: counting))
    }

    /// The handheld's database, opened beside its store: how the tests damage it.
    static func database(_ handheld: Handheld) throws -> DatabaseQueue {
        try DatabaseQueue(path: handheld.home.appendingPathComponent(ClientStore.databaseFileName).path)
    }

    static func forms(_ store: ClientStore, _ count: Int, zone: Zone) throws -> [RecordID] {
        try (0..<count).map { n in
            let form = try store.createForm(template: "building-patrol", zone: zone, place: "\(n)号楼")
            try store.setResult(form: form, item: "hygiene", result: n % 3 == 0 ? .defect : .ok, note: "第\(n)次")
            return form
        }
    }

    @Test("§8.3: a settled handheld's stored bytes are the server's canonical bytes: its checksum matches with nothing fetched", arguments: Backend.available)
    func settledMatches(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "integrity-ok") { cluster in
            let li = try await cluster.handheld("li", displayName: "李管家")
            let wang = try await cluster.handheld("wang", displayName: "王管家")
            _ = try Self.forms(li.store, 12, zone: zone)
            let pushed = try await li.engine.sync()
            #expect(pushed.serverChecksums?["east-3"] != nil)
            let (counting, engine) = try Self.counting(wang)
            let report = try await engine.sync()
            #expect(report.pulled == 12 && report.refetched == 0 && counting.fetched.withLock { $0 }.isEmpty)
            #expect(try wang.store.integrity()["east-3"]?.checksum == .ok)
            #expect(try li.store.integrity()["east-3"]?.checksum == .ok, "the pusher's own copy matches too, after its edits came back")
            for id in try li.store.allRecords().map(\.id) {
                let server = try #require(try await cluster.node.storage.encodedRecord(id: id))
                let stored = try await Self.database(wang).read { db in try Data.fetchOne(db, sql: "SELECT state FROM records WHERE id = ?", arguments: [id.rawValue]) }
                #expect(stored.map { [UInt8]($0) } == server, "\(id)")
            }
            let doctor = try await Doctor.examine(wang.engine)
            #expect(doctor.exitCode == 0 && doctor.zones["east-3"]?.checksum == .ok && doctor.server.reachable && doctor.server.protocolVersion == 1)
            #expect(doctor.pendingEdits == 0 && doctor.oldestPendingSeconds == nil && doctor.attention.isEmpty)
        }
    }

    @Test("§8.3: a store that lost rows, holds an altered state and skipped changes (a wrong cursor) is repaired by re-fetching only those records", arguments: Backend.available)
    func repairsOnlyWhatDiffers(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "integrity-repair") { cluster in
            let li = try await cluster.handheld("li", displayName: "李管家")
            let wang = try await cluster.handheld("wang", displayName: "王管家")
            let forms = try Self.forms(li.store, 40, zone: zone)
            _ = try await li.engine.sync()
            _ = try await wang.engine.sync()
            #expect(try wang.store.integrity()["east-3"]?.checksum == .ok)

            // Damage: two rows deleted, one state altered (a value gone, as if removed), and the
            // cursor moved past three changes the handheld never pulled.
            var altered = try #require(try wang.store.record(forms[7]))
            _ = altered.remove(under: try FieldPath("items", "hygiene", "result"), stamp: EditStamp(author: try Author(replica: ReplicaID("x"), name: "x"), time: HLCTimestamp(millis: 1)))
            let alteredBytes = Data(altered.canonicalJSON)
            try await Self.database(wang).write { db in
                try db.execute(sql: "DELETE FROM records WHERE id IN (?, ?)", arguments: [forms[3].rawValue, forms[21].rawValue])
                try db.execute(sql: "UPDATE records SET state = ? WHERE id = ?", arguments: [alteredBytes, forms[7].rawValue])
            }
            let later = try Self.forms(li.store, 3, zone: zone)
            _ = try await li.engine.sync()
            let latest = try await cluster.node.storage.latestCursor()
            try await Self.database(wang).write { db in try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'cursor'", arguments: ["\(latest)"]) }

            let (counting, engine) = try Self.counting(wang)
            let report = try await engine.sync()
            #expect(report.pulled == 0, "the cursor says there is nothing new")
            let fetched = counting.fetched.withLock { $0 }
            #expect(Set(fetched) == Set(([forms[3], forms[21], forms[7]] + later).map(\.rawValue)))
            #expect(fetched.count == 6 && report.refetched == 6 && report.repaired == 6, "only the six differing records: \(fetched)")
            let status = try #require(try wang.store.integrity()["east-3"])
            #expect(status.checksum == .ok && status.repaired == 6, "\(status)")
            #expect(try wang.store.allRecords() == li.store.allRecords())
            #expect(try await Doctor.examine(wang.engine).exitCode == 0)

            // The next sync finds nothing to repair.
            let again = try await engine.sync()
            #expect(again.refetched == 0 && counting.fetched.withLock { $0 }.count == 6)
        }
    }

    @Test("§8.3: a zone where edits of this handheld wait (here refused) is unknown, not compared; doctor says a person is needed", arguments: Backend.available)
    func pendingZoneUnknown(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "integrity-pending") { cluster in
            let li = try await cluster.handheld("li", displayName: "李管家")
            try li.store.setDeviceInfo(DeviceInfo(name: "li", role: .supervisor, zones: [zone]))
            let form = try li.store.createForm(template: "building-patrol", zone: zone, place: "3号楼2单元 楼梯间")
            try li.store.submit(form: form)
            try li.store.review(form: form, note: "误操作")
            let report = try await li.engine.sync()
            #expect(report.refused == 1 && report.refetched == 0)
            let status = try #require(try li.store.integrity()["east-3"])
            #expect(status.checksum == .unknown && status.reason?.contains("wait to be pushed") == true)
            let doctor = try await Doctor.examine(li.engine)
            #expect(doctor.refused.map(\.code) == ["role-forbidden"] && doctor.exitCode == 1)
            #expect(doctor.jsonValue["zones"]?["east-3"]?["checksum"] == "unknown")
        }
    }

    @Test("§8.3: an edit of this handheld whose queued copy was lost is pushed again, never dropped; another device's value the server never had is kept and reported", arguments: Backend.available)
    func lostEditRequeuedForeignReported(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "integrity-lost") { cluster in
            let li = try await cluster.handheld("li", displayName: "李管家")
            let wang = try await cluster.handheld("wang", displayName: "王管家")
            _ = try Self.forms(li.store, 5, zone: zone)
            _ = try await li.engine.sync()
            _ = try await wang.engine.sync()
            // wang's form, its outbox rows lost: only the record row says the edit was made.
            let lost = try wang.store.createForm(template: "building-patrol", zone: zone, place: "9号楼 地下车库")
            try await Self.database(wang).write { db in try db.execute(sql: "DELETE FROM outbox") }
            let first = try await wang.engine.sync()
            #expect(first.pushed == 0 && first.requeued > 0 && first.refetched == 0)
            #expect(try wang.store.integrity()["east-3"]?.checksum == .unknown)
            #expect(try wang.store.status().pendingEdits == 1)
            let second = try await wang.engine.sync()
            #expect(second.pushed == 1)
            #expect(try wang.store.integrity()["east-3"]?.checksum == .ok)
            _ = try await li.engine.sync()
            #expect(try li.store.record(lost) == wang.store.record(lost), "the edit reached the server and li")

            // A value under another replica's dot that the server never had (a restored backup
            // of the server would look like this): kept, reported, doctor says a person is needed.
            var ghost = try #require(try wang.store.record(lost))
            let stamp = EditStamp(author: try Author(replica: ReplicaID("ghost"), name: "ghost"), time: HLCTimestamp(millis: 1_795_000_000_000))
            _ = ghost.write("weather", "雨", stamp: stamp)
            let ghostBytes = Data(ghost.canonicalJSON)
            try await Self.database(wang).write { db in
                try db.execute(sql: "UPDATE records SET state = ? WHERE id = ?", arguments: [ghostBytes, lost.rawValue])
            }
            _ = try await wang.engine.sync()
            let status = try #require(try wang.store.integrity()["east-3"])
            #expect(status.checksum == .mismatch && status.left == [lost.rawValue], "\(status)")
            #expect(try wang.store.record(lost) == ghost, "the value is kept, not dropped")
            let doctor = try await Doctor.examine(wang.engine)
            #expect(doctor.exitCode == 1 && doctor.attention.contains { $0.contains(lost.rawValue) })
        }
    }
}
