import ButlerFiles
import ButlerModel
import ButlerServer
import ButlerTestSupport
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing

/// The server's integrity digests (`Protocol/SYNC.md` §8.3): kept in the merge transaction on both
/// backends, equal after any merges to a recomputation from the stored records, served on the pull
/// page that ends a catch-up and through `/v1/digests` and `/v1/fetch`, zone-checked and bounded.
@Suite("Server: zone checksums, digests and fetch")
struct ZoneChecksumTests {
    typealias F = ServerFixture
    static let zones = try! ["east-3", "east-4", "west-1"].map(Zone.init)

    /// The digest of each zone and bucket recomputed from the stored records, from scratch.
    static func recomputed(_ storage: any SyncStorage) async throws -> (zones: [Zone: ZoneDigest], buckets: [Zone: [Int: String]]) {
        var zones: [Zone: ZoneDigest] = [:]
        var buckets: [Zone: [Int: ZoneDigest]] = [:]
        var after: String?
        while true {
            let page = try await storage.storedRecords(after: after, limit: 500)
            guard let last = page.last else { break }
            after = last.id
            for record in page {
                let zone = try Zone(record.zone)
                let hash = ZoneDigest.hash(of: record.state)
                zones[zone, default: ZoneDigest()].add(hash)
                buckets[zone, default: [:]][ZoneDigest.bucket(of: record.id), default: ZoneDigest()].add(hash)
            }
        }
        return (zones, buckets.mapValues { $0.mapValues(\.hex) })
    }

    static func device(_ storage: any SyncStorage, _ name: String) async throws -> DeviceRecord {
        try #require(try await storage.devices().first { $0.name == name })
    }

    /// Random edits by three devices in three zones, pushed in random batches.
    static func randomMerges(_ storage: any SyncStorage, seed: UInt64, rounds: Int) async throws {
        var random = SeededGenerator(seed: seed)
        let writers = [("zhou", "zhou-dev", zones[0]), ("zhou", "zhou-dev", zones[1]), ("chen", "chen-dev", zones[2])]
        var states: [RecordID: RecordState] = [:]
        var millis: Int64 = 1_795_000_000_000
        for _ in 0..<rounds {
            var batch: [RecordState] = []
            let (name, replica, zone) = writers[Int(random.next() % 3)]
            for _ in 0..<(1 + Int(random.next() % 6)) {
                millis += 1000
                let id = try RecordID("form-\(zone)-s\(seed)-\(random.next() % 12)")
                if var state = states[id] {
                    let stamp = EditStamp(author: Deltas.author(replica), time: HLCTimestamp(millis: millis))
                    let delta =
                        random.next() % 2 == 0
                        ? try InspectionForm.setResult(&state, item: "hygiene", result: random.next() % 2 == 0 ? .ok : .defect, at: F.now, stamp: stamp)
                        : try InspectionForm.addNote(&state, item: "hygiene", text: "n\(millis)", at: F.now, stamp: stamp)
                    states[id] = state
                    batch.append(delta)
                } else {
                    let form = Deltas.form(id.rawValue, zone: zone, by: replica)
                    states[id] = form
                    batch.append(form)
                }
            }
            // A re-sent batch now and then: it changes nothing, and must not move a digest.
            if random.next() % 5 == 0, let first = batch.first { batch.append(first) }
            let outcomes = try await storage.merge(batch, by: try await device(storage, name), at: F.now)
            for outcome in outcomes { if case .refused(let error) = outcome { Issue.record("refused: \(error)") } }
        }
    }

    @Test("§8.3: after random merges on each backend, every zone's checksum and bucket digests equal a recomputation from the records", arguments: Backend.available)
    func maintained(_ backend: Backend) async throws {
        try await ServerFixture.with(backend) { f in
            for seed: UInt64 in [1, 2] {
                try await Self.randomMerges(f.storage, seed: seed, rounds: 25)
                let expected = try await Self.recomputed(f.storage)
                let cursor = try await f.storage.latestCursor()
                let sums = try #require(try await f.storage.zoneChecksums(zones: Self.zones, validAt: cursor), "seed \(seed)")
                for zone in Self.zones {
                    #expect(sums[zone] == expected.zones[zone] ?? ZoneDigest(), "seed \(seed), zone \(zone)")
                    let buckets = try await f.storage.recordHashes(zone: zone)
                    var digests: [Int: ZoneDigest] = [:]
                    for (bucket, hash) in buckets { digests[bucket, default: ZoneDigest()].add(try #require(ZoneDigest.bytes(hex: hash))) }
                    #expect(digests.mapValues(\.hex) == expected.buckets[zone] ?? [:], "seed \(seed), zone \(zone)")
                }
            }
            #expect(try await f.storage.zoneChecksums(zones: [try Zone("nowhere")], validAt: 0) == [try Zone("nowhere"): ZoneDigest()])
        }
    }

    @Test("§8.3: an upgraded store computes the digests of the records it already holds", arguments: Backend.available)
    func backfilled(_ backend: Backend) async throws {
        try await ServerFixture.with(backend) { f in
            try await Self.randomMerges(f.storage, seed: 7, rounds: 15)
            let before = try await f.storage.zoneChecksums(zones: Self.zones, validAt: try await f.storage.latestCursor())
            // The store as a build before the digests left it: no digest tables (SQLite) or empty ones.
            if let postgres = f.storage as? PostgresStorage {
                try await postgres.client.query("DELETE FROM record_digests", logger: .init(label: "test"))
                try await postgres.client.query("DELETE FROM zone_digests", logger: .init(label: "test"))
            } else {
                let queue = try DatabaseQueue(path: f.configuration.sqliteURL.path)
                try await queue.write { db in
                    try db.execute(sql: "DROP TABLE record_digests; DROP TABLE zone_digests; DELETE FROM grdb_migrations WHERE identifier = 'v3-digests'")
                }
                try queue.close()
            }
            try await f.storage.migrate()
            let after = try await f.storage.zoneChecksums(zones: Self.zones, validAt: try await f.storage.latestCursor())
            #expect(after == before)
            #expect(after?[Self.zones[0]] == (try await Self.recomputed(f.storage)).zones[Self.zones[0]])
        }
    }

    @Test("§8.3: checksums are valid at a cursor only while no later change to those zones has committed", arguments: Backend.available)
    func validAtCursor(_ backend: Backend) async throws {
        try await ServerFixture.with(backend) { f in
            let zhou = try await Self.device(f.storage, "zhou")
            _ = try await f.storage.merge([Deltas.form("form-a", zone: Self.zones[0], by: "zhou-dev")], by: zhou, at: F.now)
            let cursor = try await f.storage.latestCursor()
            #expect(try await f.storage.zoneChecksums(zones: [Self.zones[0]], validAt: cursor) != nil)
            // A change in another zone: east-3's checksum at the cursor still holds.
            _ = try await f.storage.merge([Deltas.form("form-w", zone: Self.zones[2], by: "chen-dev")], by: try await Self.device(f.storage, "chen"), at: F.now)
            #expect(try await f.storage.zoneChecksums(zones: [Self.zones[0]], validAt: cursor) != nil)
            _ = try await f.storage.merge([Deltas.form("form-b", zone: Self.zones[0], by: "zhou-dev")], by: zhou, at: F.now)
            #expect(try await f.storage.zoneChecksums(zones: [Self.zones[0]], validAt: cursor) == nil, "a change to east-3 committed after the cursor")
        }
    }

    @Test("§8.3: the pull page that ends a catch-up carries the device's zones' checksums; a page with more to come carries none", arguments: Backend.available)
    func pullCarriesChecksums(_ backend: Backend) async throws {
        try await ServerFixture.with(backend) { f in
            try await f.app().test(.router) { client in
                _ = try await f.push(client, as: "zhou", [Deltas.form("form-1", by: "zhou-dev"), Deltas.form("form-2", by: "zhou-dev")])
                let first = try await client.execute(uri: "/v1/pull?limit=1", method: .get, headers: f.headers("zhou"))
                let firstPage = try JSONParser.parsePullResponse(Array(first.body.readableBytesView))
                #expect(firstPage.more && firstPage.checksums == nil)
                let last = try await client.execute(uri: "/v1/pull?cursor=\(firstPage.cursor)", method: .get, headers: f.headers("zhou"))
                let bytes = Array(last.body.readableBytesView)
                let page = try JSONParser.parsePullResponse(bytes)
                let expected = try await Self.recomputed(f.storage)
                #expect(!page.more)
                #expect(page.checksums == ["east-3": expected.zones[Self.zones[0]]!.hex, "east-4": ZoneDigest().hex])
                // The page is still canonical JSON: member order changes < checksums < cursor < more.
                #expect(bytes == (try JSONParser.parse(bytes)).canonicalBytes)
                // What the device holds after pulling hashes to the checksum.
                var held = ZoneDigest()
                for state in [Deltas.form("form-1", by: "zhou-dev"), Deltas.form("form-2", by: "zhou-dev")] { held.add(ZoneDigest.hash(of: state.canonicalJSON)) }
                #expect(page.checksums?["east-3"] == held.hex)
                // chen (west-1) learns nothing of east-3.
                let other = try await client.execute(uri: "/v1/pull", method: .get, headers: f.headers("chen"))
                #expect(try JSONParser.parsePullResponse(Array(other.body.readableBytesView)).checksums == ["west-1": ZoneDigest().hex])
            }
        }
    }

    @Test("§8.3: digests and fetch answer only about the caller's zones (zone-forbidden), page bucket listings and bound fetches", arguments: Backend.available)
    func routesZoneCheckedAndBounded(_ backend: Backend) async throws {
        try await ServerFixture.with(backend) { f in
            try await f.app().test(.router) { client in
                let forms = (0..<40).map { Deltas.form("form-\($0)", by: "zhou-dev") }
                _ = try await f.push(client, as: "zhou", forms)
                let digests = try BucketDigests(json: F.json(try await client.execute(uri: "/v1/digests?zone=east-3", method: .get, headers: f.headers("li"))))
                var expected: [Int: ZoneDigest] = [:]
                for form in forms { expected[ZoneDigest.bucket(of: form.id.rawValue), default: ZoneDigest()].add(ZoneDigest.hash(of: form.canonicalJSON)) }
                #expect(digests.buckets == expected.mapValues(\.hex))

                // One bucket, in pages of one.
                let bucket = try #require(expected.keys.max { a, b in
                    forms.filter { ZoneDigest.bucket(of: $0.id.rawValue) == a }.count < forms.filter { ZoneDigest.bucket(of: $0.id.rawValue) == b }.count
                })
                let members = forms.filter { ZoneDigest.bucket(of: $0.id.rawValue) == bucket }.sorted { $0.id.rawValue < $1.id.rawValue }
                var listed: [BucketHashes.Entry] = []
                var after = ""
                while true {
                    let page = try BucketHashes(
                        json: F.json(
                            try await client.execute(
                                uri: "/v1/digests?zone=east-3&bucket=\(BucketDigests.bucketName(bucket))&limit=1&after=\(after)", method: .get,
                                headers: f.headers("li"))))
                    listed += page.records
                    guard page.more, let last = page.records.last else { break }
                    after = last.id
                }
                #expect(listed == members.map { BucketHashes.Entry(id: $0.id.rawValue, hash: $0.contentHash) })

                let fetch = FetchRequest(zone: Deltas.zone, ids: [try RecordID("form-3"), try RecordID("form-9"), try RecordID("form-nope")])
                let fetched = try await client.execute(uri: "/v1/fetch", method: .post, headers: f.headers("li"), body: F.body(fetch.jsonValue))
                #expect(fetched.status == .ok)
                #expect(Array(fetched.body.readableBytesView) == Array(#"{"records":["#.utf8) + forms[3].canonicalJSON + [UInt8(ascii: ",")] + forms[9].canonicalJSON + Array("]}".utf8))

                // chen (west-1) may not ask about east-3, by digest, listing or fetch.
                for uri in ["/v1/digests?zone=east-3", "/v1/digests?zone=east-3&bucket=00"] {
                    let refused = try await client.execute(uri: uri, method: .get, headers: f.headers("chen"))
                    #expect(refused.status == .forbidden)
                    #expect(try F.json(refused)["code"] == "zone-forbidden")
                }
                let stolen = try await client.execute(uri: "/v1/fetch", method: .post, headers: f.headers("chen"), body: F.body(fetch.jsonValue))
                #expect(try stolen.status == .forbidden && F.json(stolen)["code"] == "zone-forbidden")
                // zhou (east-3 and east-4) asking for east-3's records under east-4 gets none of them.
                let crossed = FetchRequest(zone: try Zone("east-4"), ids: fetch.ids)
                let none = try await client.execute(uri: "/v1/fetch", method: .post, headers: f.headers("zhou"), body: F.body(crossed.jsonValue))
                #expect(Array(none.body.readableBytesView) == Array(#"{"records":[]}"#.utf8))

                // Bounded: 501 ids, a bad bucket, a bad limit.
                let many: JSONValue = ["zone": "east-3", "ids": .array((0...IntegrityLimits.maxFetchIDs).map { .string("form-\($0)") })]
                let tooMany = try await client.execute(uri: "/v1/fetch", method: .post, headers: f.headers("li"), body: F.body(many))
                #expect(try tooMany.status == .badRequest && F.json(tooMany)["code"] == "invalid-value")
                for uri in ["/v1/digests?zone=east-3&bucket=0G", "/v1/digests?zone=east-3&bucket=00&limit=5000", "/v1/digests"] {
                    #expect(try await client.execute(uri: uri, method: .get, headers: f.headers("li")).status == .badRequest, "\(uri)")
                }
                let time = try ServerTime(json: F.json(try await client.execute(uri: "/v1/time", method: .get, headers: f.headers("li"))))
                #expect(time.millis == Int64(F.now.timeIntervalSince1970 * 1000) && time.protocols == [1])
            }
        }
    }
}

/// SplitMix64: a small seeded generator, so a failing seed can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
