import ButlerClient
import ButlerModel
import ButlerServer
import ButlerTestSupport
import Foundation
import GRDB
import PostgresNIO

/// One row of BENCHMARKS.md.
struct Row {
    let scenario: String
    let measured: String
    let ceiling: String
    let ratio: String
    let goal: String
    let met: Bool?
    let notes: String
}

struct Sizes {
    var edits = 1_000
    var devices = 20
    var editsPerDevice = 5_000
    var pushBatch = 500
    var photoBytes = 50_000_000
    var concurrentDevices = 200
    var concurrencySeconds = 15.0
    var kernelEdits = 20_000
    /// Simulated hours of the deterministic simulation (8 devices, 2 nodes).
    var simulatedHours = 2_500.0
    /// Changes sent one at a time from A to an online B (scenario 9).
    var liveChanges = 200
    /// Live pulls held open on one node, one device each (scenario 10).
    var liveConnections = 5_000

    static let smoke = Sizes(
        edits: 20, devices: 2, editsPerDevice: 200, pushBatch: 100, photoBytes: 2_000_000, concurrentDevices: 5, concurrencySeconds: 1,
        kernelEdits: 500, simulatedHours: 48, liveChanges: 5, liveConnections: 20)
}

let zone = try! Zone("east-3")

func author(_ replica: String) -> Author { try! Author(replica: ReplicaID(replica), name: replica) }

/// Raw SQLite at the store's durability: one row per transaction (or `batch` rows per transaction).
func rawSQLiteInserts(_ directory: URL, payloads: [Data], batch: Int) throws -> Double {
    let pool = try DatabasePool(path: directory.appendingPathComponent("raw-\(UUID().uuidString).sqlite").path)
    try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
    try pool.write { db in try db.execute(sql: "CREATE TABLE t (id TEXT PRIMARY KEY, payload BLOB NOT NULL)") }
    let start = ContinuousClock.now
    var index = 0
    while index < payloads.count {
        let end = min(payloads.count, index + batch)
        try pool.write { db in
            for i in index..<end {
                try db.execute(sql: "INSERT INTO t (id, payload) VALUES (?, ?)", arguments: [String(i), payloads[i]])
            }
        }
        index = end
    }
    let d = ContinuousClock.now - start
    return Double(payloads.count) / (Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
}

// MARK: 1. Durable single edits

func durableEdits(_ dir: URL, _ sizes: Sizes) async throws -> Row {
    let store = try ClientStore.open(home: dir.appendingPathComponent("edits"))
    try store.initialize(name: "李管家", serverURL: "http://127.0.0.1:9", token: "bt_bench")
    let form = try store.createForm(template: "building-patrol", zone: zone, place: "3号楼")
    let items = try TemplateCatalog.bundled().template("building-patrol").items.map(\.key)
    let results: [ChecklistResult] = [.ok, .defect, .na]
    let t = try await seconds {
        for i in 0..<sizes.edits {
            try store.setResult(form: form, item: items[i % items.count], result: results[i % 3])
        }
    }
    let clientRate = Double(sizes.edits) / t
    // The same payload (a checklist-result delta) as raw inserts, one durable transaction each.
    var state = try require(try store.record(form))
    let delta = try InspectionForm.setResult(&state, item: "tiles", result: .defect, at: Date(), stamp: EditStamp(author: author("x"), time: HLCTimestamp(millis: 1)))
    let payload = Data(delta.canonicalJSON)
    let rawRate = try rawSQLiteInserts(dir, payloads: Array(repeating: payload, count: sizes.edits), batch: 1)
    let ratio = clientRate / rawRate
    return Row(
        scenario: "1. Durable single edits (ButlerClient `setResult`) vs raw SQLite inserts, synchronous=FULL",
        measured: "\(format(clientRate)) edits/s", ceiling: "\(format(rawRate)) inserts/s", ratio: format(ratio, 2) + "×",
        goal: "≥ 0.5×", met: ratio >= 0.5, notes: "\(sizes.edits) edits; each a WAL commit with fsync")
}

func require<T>(_ value: T?) throws -> T {
    guard let value else { throw BenchFailure("missing value") }
    return value
}

/// Deltas that each create one work order: `count` per device.
func creationDeltas(device: Int, count: Int) throws -> [RecordState] {
    let a = author("dev\(device)")
    return try (0..<count).map { i in
        try WorkOrder.create(
            id: RecordID("wo-\(device)-\(i)"), zone: zone, place: "\(device)号楼 \(i)", category: .general, description: "灯坏",
            reportedAt: Date(timeIntervalSince1970: 1_795_000_000), stamp: EditStamp(author: a, time: HLCTimestamp(millis: 1_795_000_000_000 + Int64(i))))
    }
}

// MARK: 2 & 3. Server merge, then pull catch-up

func mergeAndPull(_ dir: URL, _ sizes: Sizes, databaseURL: String?) async throws -> [Row] {
    let label = databaseURL == nil ? "embedded SQLite" : "PostgreSQL"
    var storeArguments: [String] = []
    if let databaseURL {
        let schema = "bench_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(10))"
        storeArguments = ["--database-url", "\(databaseURL)?schema=\(schema)", "--blobs", dir.appendingPathComponent("pg-blobs").path]
    }
    let server = try await ServerProcess.bench(data: dir.appendingPathComponent("merge-\(label.prefix(3))"), storeArguments: storeArguments)
    defer { server.terminate() }
    var devices: [(CurlTransport, [RecordState])] = []
    for d in 0..<sizes.devices {
        let token = try await server.addDevice("dev\(d)")
        devices.append((CurlTransport(configuration: .init(baseURL: server.url, token: token)), try creationDeltas(device: d, count: sizes.editsPerDevice)))
    }
    let total = sizes.devices * sizes.editsPerDevice
    let batch = sizes.pushBatch
    let t = try await seconds {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (transport, deltas) in devices {
                group.addTask {
                    for start in stride(from: 0, to: deltas.count, by: batch) {
                        let response = try await transport.push(PushRequest(deltas: Array(deltas[start..<min(deltas.count, start + batch)])))
                        guard response.results.allSatisfy({ $0.status == .accepted }) else { throw BenchFailure("push refused") }
                    }
                }
            }
            try await group.waitForAll()
        }
    }
    let mergeRate = Double(total) / t
    let payloads = devices.flatMap { $0.1 }.map { Data($0.canonicalJSON) }
    let rawRate = try rawSQLiteInserts(dir, payloads: payloads, batch: batch)
    let goal = databaseURL == nil ? 20_000.0 : 8_000.0
    var rows = [
        Row(
            scenario: "2. Server merge on \(label): \(sizes.devices) devices × \(sizes.editsPerDevice) edits, batches of \(batch), over loopback HTTP",
            measured: "\(format(mergeRate)) changes/s", ceiling: "\(format(rawRate)) rows/s raw SQLite, \(batch)/txn", ratio: format(mergeRate / rawRate, 2) + "×",
            goal: "≥ \(format(goal)) changes/s", met: mergeRate >= goal, notes: "\(total) changes in \(format(t, 1)) s"),
    ]
    guard databaseURL == nil else { return rows }

    // 3. A new device pulls everything: `butler sync` as its own process, peak RSS sampled.
    let token = try await server.addDevice("newcomer")
    let home = dir.appendingPathComponent("newcomer")
    try await run(Binaries.url("butler"), ["--home", home.path, "init", "--server", server.url, "--token", token])
    var peak: Int64 = 0
    var exit: ChildProcess.Exit?
    let pullTime = try await seconds {
        let process = try ChildProcess(Binaries.url("butler"), ["--home", home.path, "sync", "--quiet"], captureStdout: false, captureStderr: false)
        while process.isRunning {
            peak = max(peak, peakRSS(pid: process.pid) ?? 0)
            try await Task.sleep(for: .milliseconds(20))
        }
        exit = await process.exit()
    }
    guard exit?.status == 0, exit?.signalled == false else { throw BenchFailure("butler sync failed") }
    let pullRate = Double(total) / pullTime
    // Ceiling: the same pages over loopback HTTP, one after the other, parsed but not stored; at
    // the client's page size and at the server's default (1000), the higher one counting.
    let ceilingTransport = CurlTransport(configuration: .init(baseURL: server.url, token: token))
    let pageSize = SyncEngine.Configuration().pullPageSize
    var ceilings: [Int: Double] = [:]
    for limit in Set([pageSize, 1000]).sorted() {
        var pulled = 0
        let rawPull = try await seconds {
            var cursor: String? = nil
            while true {
                let page = try await ceilingTransport.pull(cursor: cursor, limit: limit)
                pulled += page.changes.count
                cursor = page.cursor
                if !page.more { break }
            }
        }
        ceilings[limit] = Double(pulled) / rawPull
    }
    let ceiling = ceilings.values.max() ?? .nan
    let ceilingNote = ceilings.sorted { $0.key < $1.key }.map { "\(format($0.value)) changes/s in pages of \($0.key)" }.joined(separator: ", ")
    rows.append(Row(
        scenario: "3. Pull catch-up: a new device (`butler sync`) pulls \(total) changes into its store",
        measured: "\(format(pullRate)) changes/s, peak RSS \(mb(peak))", ceiling: "\(format(ceiling)) changes/s (pages over loopback, parsed, not stored)",
        ratio: format(pullRate / ceiling, 2) + "×", goal: "≥ 50000 changes/s and ≥ 0.9× ceiling, RSS ≤ 150 MB",
        met: pullRate >= 50_000 && pullRate >= 0.9 * ceiling && peak <= 150 << 20,
        notes: "pages of \(pageSize), the next fetched while the last is stored; each page stored with its cursor in one transaction; ceiling: \(ceilingNote)"))
    return rows
}

// MARK: 4. Photo upload

func photoUpload(_ dir: URL, _ sizes: Sizes) async throws -> [Row] {
    let server = try await ServerProcess.bench(data: dir.appendingPathComponent("photos"))
    defer { server.terminate() }
    let token = try await server.addDevice("photographer")
    let store = try ClientStore.open(home: dir.appendingPathComponent("photographer"))
    try store.initialize(name: "李管家", serverURL: server.url, token: token)
    let form = try store.createForm(template: "building-patrol", zone: zone, place: "B1")
    func photo(_ seed: UInt64) throws -> URL {
        let url = dir.appendingPathComponent("photo-\(seed).jpg")
        try writePhoto(url, bytes: sizes.photoBytes, seed: seed)
        return url
    }
    let ours = try photo(1)
    let sha = try store.attachPhoto(form: form, file: ours, item: "tiles")
    var config = SyncEngine.Configuration()
    config.uploadChunkSize = 8 << 20
    let transport = CurlTransport(configuration: .init(baseURL: server.url, token: token))
    let engine = SyncEngine(store: store, transport: transport, configuration: config)
    let ourTime = try await seconds { _ = try await engine.upload(sha256: sha, size: Int64(sizes.photoBytes)) }
    // curl uploading a file of the same size to the same server endpoint.
    let other = try photo(2)
    let digest = try await run(URL(fileURLWithPath: "/usr/bin/sha256sum"), [other.path]).prefix(64)
    let curlTime = try await seconds {
        try await run(URL(fileURLWithPath: "/usr/bin/curl"), [
            "-sS", "-f", "-o", "/dev/null", "-X", "PATCH", "-H", "Authorization: Bearer \(token)", "-H", "Butler-Protocol: 1", "-H", "Expect:",
            "--data-binary", "@\(other.path)", "\(server.url)/v1/blobs/\(digest)/upload?offset=0&length=\(sizes.photoBytes)",
        ])
    }
    let ratio = curlTime / ourTime
    // Cut at a random offset, then resume: only the missing bytes go out.
    let third = try photo(3)
    let thirdSHA = try store.attachPhoto(form: form, file: third, item: "hygiene")
    var oneShot = SyncEngine.Configuration()
    oneShot.uploadChunkSize = Int64(sizes.photoBytes)
    let cutEngine = SyncEngine(store: store, transport: transport, configuration: oneShot)
    let cutAt = Int64.random(in: Int64(sizes.photoBytes / 10)...Int64(sizes.photoBytes * 8 / 10))
    let upload = Task { try await cutEngine.upload(sha256: thirdSHA, size: Int64(sizes.photoBytes)) }
    while try await transport.blobStatus(sha256: thirdSHA).received < cutAt, !(try await transport.blobStatus(sha256: thirdSHA).complete) {
        try await Task.sleep(for: .milliseconds(1))
    }
    upload.cancel()
    _ = await upload.result
    var held = try await transport.blobStatus(sha256: thirdSHA)
    for _ in 0..<20 {
        try await Task.sleep(for: .milliseconds(100))
        let again = try await transport.blobStatus(sha256: thirdSHA)
        if again == held { break }
        held = again
    }
    let resent = try await cutEngine.upload(sha256: thirdSHA, size: Int64(sizes.photoBytes))
    let exact = resent == Int64(sizes.photoBytes) - held.received && (held.received < Int64(sizes.photoBytes) || sizes.photoBytes < 10_000_000)
    return [
        Row(
            scenario: "4a. Photo upload, \(sizes.photoBytes / 1_000_000) MB over loopback (SyncEngine, 8 MiB chunks, hash verified)",
            measured: "\(format(Double(sizes.photoBytes) / ourTime / 1_048_576, 1)) MB/s", ceiling: "\(format(Double(sizes.photoBytes) / curlTime / 1_048_576, 1)) MB/s `curl --data-binary` to the same endpoint",
            ratio: format(ratio, 2) + "×", goal: "≥ 0.5×", met: ratio >= 0.5, notes: "both include the server's SHA-256 check"),
        Row(
            scenario: "4b. Resume after a cut at a random offset", measured: "cut at \(held.received) B, resumed with \(resent) B",
            ceiling: "missing: \(Int64(sizes.photoBytes) - held.received) B", ratio: exact ? "exact" : "MISMATCH", goal: "only the missing bytes", met: exact,
            notes: "the server keeps what arrived before the cut"),
    ]
}

// MARK: 5. Wire size

func wireSize(_ dir: URL, _ sizes: Sizes) async throws -> Row {
    var form = try InspectionForm.create(
        id: RecordID("form-\(UUID().uuidString.lowercased())"), zone: zone, template: try TemplateCatalog.bundled().template("building-patrol"),
        place: "3号楼", at: Date(), stamp: EditStamp(author: author("d0123456789abcdef"), time: HLCTimestamp(millis: 1_795_000_000_000)))
    let a = author("d0123456789abcdef")
    var results: [RecordState] = []
    var notes: [RecordState] = []
    for i in 0..<100 {
        results.append(try InspectionForm.setResult(&form, item: "tiles", result: i % 2 == 0 ? .ok : .defect, at: Date(), stamp: EditStamp(author: a, time: HLCTimestamp(millis: 1_795_000_000_000 + Int64(i) * 1000))))
        notes.append(try InspectionForm.addNote(&form, item: "tiles", text: "地砖松动 \(i)", at: Date(), stamp: EditStamp(author: a, time: HLCTimestamp(millis: 1_795_000_100_000 + Int64(i) * 1000))))
    }
    var callback = try CallbackRecord.create(subject: RecordID("wo-\(UUID().uuidString.lowercased())"), subjectType: .workOrder, zone: zone, stamp: EditStamp(author: a, time: HLCTimestamp(millis: 1)))
    var attempts: [RecordState] = []
    for i in 0..<100 {
        attempts.append(try CallbackRecord.logAttempt(&callback, at: Date(timeIntervalSince1970: 1_795_000_000 + Double(i) * 60), channel: .phone, reached: i % 3 == 0, satisfaction: i % 3 == 0 ? .satisfied : nil, note: nil, stamp: EditStamp(author: a, time: HLCTimestamp(millis: 1_795_000_200_000 + Int64(i) * 1000))).delta)
    }
    // What the wire carries: each batch pushed to a real butler-server through the real
    // transport, once plain (an old client) and once gzipped, counted by libcurl
    // (CURLINFO_SIZE_UPLOAD_T / _DOWNLOAD_T: body bytes as sent and received, headers aside).
    let server = try await ServerProcess.bench(data: dir.appendingPathComponent("wire"))
    defer { server.terminate() }
    let token = try await server.addDevice("wire")
    var plainConfiguration = CurlTransport.Configuration(baseURL: server.url, token: token)
    plainConfiguration.compression = false
    func perChange(_ deltas: [RecordState]) async throws -> (raw: Double, gzip: Double) {
        let plain = CurlTransport(configuration: plainConfiguration)
        let gzip = CurlTransport(configuration: .init(baseURL: server.url, token: token))
        // A push is idempotent: the second changes nothing on the server and carries the same JSON.
        _ = try await plain.push(PushRequest(deltas: deltas))
        _ = try await gzip.push(PushRequest(deltas: deltas))
        let n = Double(deltas.count)
        return (Double(plain.wire.totals.sent) / n, Double(gzip.wire.totals.sent) / n)
    }
    let r = try await perChange(results)
    let n = try await perChange(notes)
    let c = try await perChange(attempts)
    let single = try await perChange([results[1]])
    // A pull page of 100 new work orders (pushed by a device whose replica they are), read from
    // after everything above, plain and gzipped.
    var cursor: String? = nil
    while true {
        let page = try await CurlTransport(configuration: plainConfiguration).pull(cursor: cursor, limit: 1000)
        cursor = page.cursor
        if !page.more { break }
    }
    let orders = try creationDeltas(device: 7, count: 100)
    let pushed = try await CurlTransport(configuration: .init(baseURL: server.url, token: try await server.addDevice("dev7"))).push(PushRequest(deltas: orders))
    guard pushed.results.allSatisfy({ $0.status == .accepted }) else { throw BenchFailure("work orders refused") }
    let plainPull = CurlTransport(configuration: plainConfiguration)
    let gzipPull = CurlTransport(configuration: .init(baseURL: server.url, token: token))
    let page = try await plainPull.pull(cursor: cursor, limit: 1000)
    guard try await gzipPull.pull(cursor: cursor, limit: 1000).changes == page.changes else { throw BenchFailure("gzip pull differs") }
    let records = Double(page.changes.count)
    let (pullRaw, pullGzip) = (Double(plainPull.wire.totals.received) / records, Double(gzipPull.wire.totals.received) / records)

    // What gzip costs where bytes are free: a catch-up of many changes over loopback, in pages of
    // 1000, plain and gzipped (the server compresses, libcurl inflates, the client parses), twice
    // each in turn; the faster run of each counts.
    let many = sizes.editsPerDevice * 4
    let bulk = CurlTransport(configuration: .init(baseURL: server.url, token: try await server.addDevice("dev8")))
    let creations = try creationDeltas(device: 8, count: many)
    for start in stride(from: 0, to: many, by: 500) {
        _ = try await bulk.push(PushRequest(deltas: Array(creations[start..<min(many, start + 500)])))
    }
    func catchUp(_ configuration: CurlTransport.Configuration) async throws -> (rate: Double, bytes: Int64) {
        let transport = CurlTransport(configuration: configuration)
        var pulled = 0
        var from = page.cursor
        let t = try await seconds {
            while true {
                let next = try await transport.pull(cursor: from, limit: 1000)
                pulled += next.changes.count
                from = next.cursor
                if !next.more { break }
            }
        }
        guard pulled == many else { throw BenchFailure("catch-up pulled \(pulled) of \(many)") }
        return (Double(pulled) / t, transport.wire.totals.received)
    }
    let gzipConfiguration = CurlTransport.Configuration(baseURL: server.url, token: token)
    var (plainRate, gzipRate) = (0.0, 0.0)
    var (plainBytes, gzipBytes): (Int64, Int64) = (0, 0)
    for _ in 0..<2 {
        let plainRun = try await catchUp(plainConfiguration)
        let gzipRun = try await catchUp(gzipConfiguration)
        (plainRate, plainBytes) = (max(plainRate, plainRun.rate), plainRun.bytes)
        (gzipRate, gzipBytes) = (max(gzipRate, gzipRun.rate), gzipRun.bytes)
    }
    return Row(
        scenario: "5. Wire bytes per change through butler-server (a push of 100; request bodies as libcurl sent them)",
        measured:
            "checklist result \(format(r.gzip)) B gzip (raw \(format(r.raw)) B; alone in a push: \(format(single.gzip)) B, raw \(format(single.raw)) B); note \(format(n.gzip)) B (raw \(format(n.raw)) B); callback attempt \(format(c.gzip)) B (raw \(format(c.raw)) B); pull page of \(Int(records)) work orders \(format(pullGzip)) B/record (raw \(format(pullRaw)) B)",
        ceiling: "loopback catch-up of \(many) changes: plain \(format(plainRate)) changes/s (\(format(Double(plainBytes) / 1024)) KiB), gzip \(format(gzipRate)) changes/s (\(format(Double(gzipBytes) / 1024)) KiB)",
        ratio: format(gzipRate / plainRate, 2) + "× (gzip/plain rate)", goal: "≤ 40 B per result in a push of 100, ≤ 200 B alone (on the wire)",
        met: r.gzip <= 40 && single.gzip <= 200,
        notes: "gzip level 6 on pushes ≥ 150 B and replies ≥ 150 B (level 1 above 64 KiB); Content-Encoding / Accept-Encoding, old clients served plain; HTTP headers (~250 B a request) not counted")
}

// MARK: 6. Concurrency

func concurrency(_ dir: URL, _ sizes: Sizes) async throws -> Row {
    let server = try await ServerProcess.bench(data: dir.appendingPathComponent("crowd"))
    defer { server.terminate() }
    var devices: [(CurlTransport, RecordState, Author)] = []
    for d in 0..<sizes.concurrentDevices {
        let token = try await server.addDevice("crowd\(d)")
        let a = author("crowd\(d)")
        let form = try InspectionForm.create(
            id: RecordID("form-crowd-\(d)"), zone: zone, template: try TemplateCatalog.bundled().template("building-patrol"), place: "楼 \(d)",
            at: Date(), stamp: EditStamp(author: a, time: HLCTimestamp(millis: 1_795_000_000_000)))
        devices.append((CurlTransport(configuration: .init(baseURL: server.url, token: token)), form, a))
    }
    let samples = Samples()
    let stop = ContinuousClock.now + .milliseconds(Int64(sizes.concurrencySeconds * 1000))
    let sampler = Task {
        var peak: Int64 = 0
        while ContinuousClock.now < stop {
            peak = max(peak, server.peakRSS ?? 0)
            try? await Task.sleep(for: .milliseconds(100))
        }
        return peak
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
        for (transport, initial, a) in devices {
            group.addTask {
                var form = initial
                var n = 0
                var pending = [initial]
                while ContinuousClock.now < stop, n < 10_000 {
                    n += 1
                    pending.append(try InspectionForm.addNote(&form, item: "hygiene", text: "n\(n)", at: Date(), stamp: EditStamp(author: a, time: HLCTimestamp(millis: 1_795_000_000_000 + Int64(n)))))
                    let start = ContinuousClock.now
                    do {
                        let response = try await transport.push(PushRequest(deltas: pending))
                        if response.results.allSatisfy({ $0.status == .accepted }) { pending.removeAll() } else { samples.fail() }
                        let d = ContinuousClock.now - start
                        samples.add(Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
                    } catch {
                        samples.fail()
                    }
                }
            }
        }
        try await group.waitForAll()
    }
    let peak = max(await sampler.value, server.peakRSS ?? 0)
    let (latencies, errors) = samples.snapshot
    let sorted = latencies.sorted()
    let pushesPerSecond = Double(latencies.count) / sizes.concurrencySeconds
    return Row(
        scenario: "6. \(sizes.concurrentDevices) devices pushing at once for \(format(sizes.concurrencySeconds)) s (embedded server)",
        measured: "p50 \(format(percentile(sorted, 0.5), 1)) ms, p99 \(format(percentile(sorted, 0.99), 1)) ms, \(format(pushesPerSecond)) pushes/s, \(errors) errors, server peak RSS \(mb(peak))",
        ceiling: "—", ratio: "—", goal: "0 errors, server RSS ≤ 300 MB", met: errors == 0 && peak <= 300 << 20,
        notes: "\(latencies.count) pushes; each device pushes its next note as soon as the last is acknowledged")
}

// MARK: 7. Merge kernel

func mergeKernel(_ dir: URL, _ sizes: Sizes, python: Bool) async throws -> Row {
    // An edit stream on one form from four replicas: results and notes on 25 items.
    let template = try TemplateCatalog.bundled().template("building-patrol")
    let keys = Array(template.items.map(\.key).prefix(25))
    let base = try InspectionForm.create(
        id: RecordID("form-kernel"), zone: zone, template: template, place: "p", at: Date(), stamp: EditStamp(author: author("r0"), time: HLCTimestamp(millis: 1)))
    var replicas = (0..<4).map { _ in base }
    var deltas: [RecordState] = []
    var stream: [String] = []
    for i in 0..<sizes.kernelEdits {
        let r = i % 4
        let item = keys[(i * 7) % keys.count]
        let stamp = EditStamp(author: author("r\(r)"), time: HLCTimestamp(millis: 1_795_000_000_000 + Int64(i)))
        // A replica's next edit of the same item always changes its value (the template has 24
        // items, so `i % 3` alone would repeat it): automerge records no change for a put of the
        // value already there, and the stream must be the same work for every library.
        let value = ["ok", "defect", "na"][(i + i / keys.count) % 3]
        deltas.append(try InspectionForm.setResult(&replicas[r], item: item, result: ChecklistResult(rawValue: value)!, at: Date(), stamp: stamp))
        stream.append(JSONValue.object(["replica": .string("r\(r)"), "key": .string("items/\(item)/result"), "value": .string(value)]).canonicalString)
    }
    var target = base
    let t = try await seconds {
        for delta in deltas { try target.merge(delta) }
    }
    let ours = Double(deltas.count) / t
    var comparison = "pycrdt and automerge not run"
    if python {
        let file = dir.appendingPathComponent("stream.jsonl")
        try stream.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        /// The JSON a comparison script printed, or `nil` when it could not run.
        func compare(_ script: String) async -> JSONValue? {
            let path = Binaries.packageRoot.appendingPathComponent("Benchmarks/compare/\(script)").path
            guard let out = try? await run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", path, file.path]) else { return nil }
            return try? JSONParser.parse(out.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        var parts: [String] = []
        if let rate = await compare("pycrdt_stream.py")?["editsPerSecond"]?.intValue {
            parts.append("pycrdt (Yrs) \(rate) edits/s applying the same stream (ratio \(format(ours / Double(rate), 2))×)")
        } else {
            parts.append("pycrdt unavailable (pip install pycrdt)")
        }
        if let json = await compare("automerge_stream.py"), let rate = json["editsPerSecond"]?.intValue, let batch = json["batchEditsPerSecond"]?.intValue {
            parts.append(
                "automerge 1.0.0rc1 \(rate) changes/s merged one at a time (ratio \(format(ours / Double(rate), 2))×), \(batch) changes/s loaded as one batch")
        } else {
            parts.append("automerge unavailable (pip install automerge==1.0.0rc1)")
        }
        comparison = parts.joined(separator: "; ")
    }
    return Row(
        scenario: "7. Merge kernel: joining \(deltas.count) deltas (results on \(keys.count) items, 4 replicas) into one state",
        measured: "ButlerModel join \(format(ours)) deltas/s", ceiling: comparison, ratio: "—", goal: "report", met: nil,
        notes: "each library applies the stream from its own Python binding: pycrdt's updates with apply_update, automerge's changes with merge (its 1.0 binding has no apply_changes)")
}
