import ButlerClient
import ButlerModel
import ButlerServer
import ButlerTestSupport
import Foundation

#if canImport(Glibc)
import Glibc
#endif

// Issue 15's live feed: how soon a change reaches another online device, beside a live-sync
// relay measured in the same run, and how many live connections one node holds.

/// A registered handheld on a `butler-server` process: its store and a sync engine over HTTP.
func benchHandheld(_ dir: URL, _ name: String, server: ServerProcess, token: String) throws -> (ClientStore, SyncEngine) {
    let store = try ClientStore.open(home: dir.appendingPathComponent(name))
    try store.initialize(name: name, serverURL: server.url, token: token)
    return (store, SyncEngine(store: store, transport: CurlTransport(configuration: .init(baseURL: server.url, token: token))))
}

/// The numeric members of a one-line JSON object a helper script printed.
func jsonNumbers(_ text: some StringProtocol) -> [String: Double]? {
    guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return nil }
    return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
}

func milliseconds(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

// MARK: 9. Live latency

/// A → server → B: A records a checklist result (durably, in its store) and pushes it; B holds a
/// live pull open and stores the change when it arrives. The latency runs from A's edit to B's
/// commit. The peer is Yjs's y-websocket relay from Debian (`node-y-websocket`), A → relay → B in
/// the same run; it keeps documents in memory, so it does no disk writes where ButlerSync does
/// three fsyncs (A's store, the server's commit, B's store).
func liveLatency(_ dir: URL, _ sizes: Sizes) async throws -> Row {
    let server = try await ServerProcess.bench(data: dir.appendingPathComponent("live"))
    defer { server.terminate() }
    let (aStore, a) = try benchHandheld(dir, "live-a", server: server, token: try await server.addDevice("live-a"))
    let (bStore, b) = try benchHandheld(dir, "live-b", server: server, token: try await server.addDevice("live-b"))
    let form = try aStore.createForm(template: "building-patrol", zone: zone, place: "3号楼")
    _ = try await a.sync()
    _ = try await b.sync()
    let items = try TemplateCatalog.bundled().template("building-patrol").items.map(\.key)
    var latencies: [Double] = []
    var edits: [Double] = []
    var pushes: [Double] = []
    for n in 0..<sizes.liveChanges {
        let waiting = Task {
            var report = SyncReport()
            let stored = try await b.pullLive(wait: .seconds(30), into: &report)
            return (stored, ContinuousClock.now)
        }
        // Let B's pull reach the server and park (a loopback request takes well under this).
        try await Task.sleep(for: .milliseconds(20))
        let start = ContinuousClock.now
        try aStore.setResult(form: form, item: items[n % items.count], result: n % 2 == 0 ? .defect : .ok, note: "第\(n)次巡查")
        let edited = ContinuousClock.now
        var report = SyncReport()
        try await a.push(into: &report)
        let pushed = ContinuousClock.now
        let (stored, end) = try await waiting.value
        edits.append(milliseconds(edited - start))
        pushes.append(milliseconds(pushed - edited))
        guard stored > 0 else { throw BenchFailure("live change \(n) did not arrive within 30 s") }
        latencies.append(milliseconds(end - start))
    }
    guard try bStore.form(form).items.count == aStore.form(form).items.count else { throw BenchFailure("B does not hold A's results") }
    let sorted = latencies.sorted()
    let (p50, p99) = (percentile(sorted, 0.5), percentile(sorted, 0.99))
    var peer = "y-websocket not run (apt-get install node-y-websocket node-ws)"
    var ratio = "—"
    let script = Binaries.packageRoot.appendingPathComponent("Benchmarks/compare/ywebsocket_latency.js")
    if let out = try? await runCommand(
        URL(fileURLWithPath: "/usr/bin/env"), ["NODE_PATH=/usr/share/nodejs", "node", script.path, String(sizes.liveChanges)], timeout: .seconds(300)),
        out.status == 0, let json = jsonNumbers(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)),
        let y50 = json["p50"], let y99 = json["p99"]
    {
        peer = "y-websocket relay (Yjs, in memory) p50 \(format(y50, 2)) ms, p99 \(format(y99, 2)) ms"
        ratio = "p99 \(format(p99 / y99, 1))× the relay's"
    }
    return Row(
        scenario: "9. Live sync: a change from A stored by online B (A → server → B, embedded server, loopback)",
        measured: "p50 \(format(p50, 2)) ms, p99 \(format(p99, 2)) ms", ceiling: peer, ratio: ratio, goal: "p99 ≤ 100 ms", met: p99 <= 100,
        notes: "\(sizes.liveChanges) changes one at a time; from A's durable edit to B's commit, with A's store, the server's and B's store each fsyncing; of which A's edit p50 \(format(percentile(edits.sorted(), 0.5), 2)) ms, A's push (request to acknowledged reply) p50 \(format(percentile(pushes.sorted(), 0.5), 2)) ms")
}

// MARK: 10. Live connections

/// CLOCK_MONOTONIC in nanoseconds: the one clock this process and the Python client share.
func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// One node holding `liveConnections` live pulls, each from its own registered device, all
/// parked; then one push wakes them all. Reports the time from the push's start to each device's
/// whole reply (measured by the Python client, `Benchmarks/compare/live_connections.py`), errors,
/// and the server's peak RSS.
func liveConnections(_ dir: URL, _ sizes: Sizes) async throws -> Row {
    let data = dir.appendingPathComponent("live-many")
    var configuration = ServerConfiguration()
    configuration.dataDirectory = data
    // Devices registered straight into the node's store before it starts: one `device add` per
    // device would spawn thousands of processes.
    let count = sizes.liveConnections
    let tokens = try await withStorage(configuration) { storage, _ in
        let registry = DeviceRegistry(storage: storage)
        var tokens: [String] = []
        for n in 0..<count { tokens.append(try await registry.add(name: "crowd-\(n)", role: .butler, zones: [zone])) }
        return tokens
    }
    let server = try await ServerProcess.bench(data: data)
    defer { server.terminate() }
    let (aStore, a) = try benchHandheld(dir, "many-a", server: server, token: try await server.addDevice("many-a"))
    let form = try aStore.createForm(template: "building-patrol", zone: zone, place: "5号楼")
    _ = try await a.sync()
    guard let cursor = try aStore.cursor() else { throw BenchFailure("no cursor after the first sync") }
    let tokenFile = dir.appendingPathComponent("live-tokens.txt")
    try tokens.joined(separator: "\n").write(to: tokenFile, atomically: true, encoding: .utf8)
    let goFile = dir.appendingPathComponent("live-go")
    let script = Binaries.packageRoot.appendingPathComponent("Benchmarks/compare/live_connections.py")
    let port = URL(string: server.url)?.port ?? 0
    let client = try ChildProcess(
        URL(fileURLWithPath: "/usr/bin/env"), ["python3", script.path, "127.0.0.1", String(port), tokenFile.path, cursor, goFile.path])
    defer { client.signal(SIGKILL) }
    guard await client.stdout?.wait(for: "ready", within: .seconds(120), unless: { !client.isRunning }) == true else {
        throw BenchFailure("the live connections did not open: \(client.stderr?.text.suffix(500) ?? "")")
    }
    // Every request is written; let the server park them (bounded), then push one change.
    try await Task.sleep(for: .seconds(max(2, Double(count) / 1000)))
    try String(monotonicNanoseconds()).write(to: goFile, atomically: true, encoding: .utf8)
    try aStore.setResult(form: form, item: "stairwell-lights", result: .defect, note: "全体通知")
    var report = SyncReport()
    try await a.push(into: &report)
    let exit = await client.exit(within: .seconds(150))
    await client.stdout?.end()
    let peak = server.peakRSS
    guard !exit.timedOut, exit.exit.status == 0, let line = client.stdout?.text.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
        let json = jsonNumbers(line)
    else { throw BenchFailure("the live connection client failed: \(client.stderr?.text.suffix(500) ?? "")") }
    let ok = Int(json["ok"] ?? 0)
    let errors = Int(json["errors"] ?? Double(count))
    let p50 = json["p50"] ?? .nan
    let p99 = json["p99"] ?? .nan
    return Row(
        scenario: "10. \(count) live connections on one node (embedded server), one push wakes them all",
        measured: "\(ok) notified, \(errors) errors; notification p50 \(format(p50, 0)) ms, p99 \(format(p99, 0)) ms; server peak RSS \(mb(peak))",
        ceiling: "—", ratio: "—", goal: "0 errors, server RSS ≤ 500 MB", met: errors == 0 && (peak ?? .max) <= 500 << 20,
        notes: "one device per connection, each `GET /v1/pull?wait=55`; the latency runs from the push's start to each whole reply, as the Python asyncio client saw it")
}
