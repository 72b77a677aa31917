import ButlerClient
import ButlerModel
import ButlerServer
import ButlerSimulation
import ButlerTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 14's real-process counterpart of the deterministic simulation, in the style of Jepsen:
/// two `butler-server` nodes on a PostgreSQL cluster of the test's own, five `butler` handhelds,
/// each in a network namespace of its own (see ``TestNetwork``), a seeded workload of a butler's
/// day, and a nemesis that partitions, slows, drops, kills and shifts clocks while it runs. After
/// healing, the simulation's ``Checker`` reads the server's audit log and records and every
/// handheld's store, and the run's own history of acknowledged edits is held against the server.
@Suite(
    "End to end: Jepsen-style run on real processes", .serialized,
    .enabled(if: JepsenRun.unavailable == nil, Comment(rawValue: "SKIPPED: " + (JepsenRun.unavailable ?? ""))))
struct JepsenTests {
    @Test(
        "real nodes on PostgreSQL, real clients in network namespaces; partitions, slow and lossy links, kill -9 of nodes and clients, a PostgreSQL restart, shifted clocks: nothing acknowledged is lost and every device converges"
    )
    func realProcessRun() async throws {
        let seed = ProcessInfo.processInfo.environment["BUTLER_JEPSEN_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...999_999)
        print("real-process run: seed \(seed) (BUTLER_JEPSEN_SEED=\(seed) replays its schedule; the processes' timing is not replayed)")
        let started = ContinuousClock.now
        let postgres = try await TestPostgres.start()
        let report: JepsenRun.Report
        do {
            report = try await TestNetwork.with(clients: JepsenRun.clients, nodes: JepsenRun.nodes) { network in
                try await JepsenRun(seed: seed, network: network, postgres: postgres).run()
            }
        } catch {
            await postgres.stop()
            throw error
        }
        await postgres.stop()
        let seconds = (ContinuousClock.now - started).components.seconds
        print(report.summary + " (seed \(seed), \(seconds) s)")
        print("FAULT-REPORT jepsen " + report.faults.sorted { $0.key < $1.key }.map { "\($0.key.replacingOccurrences(of: " ", with: "-"))=\($0.value)" }.joined(separator: " "))
        for line in report.notes { print("real-process run: \(line)") }
        let listed = report.violations.joined(separator: "\n")
        #expect(report.violations.isEmpty, "\(report.violations.count) violation(s) (seed \(seed)):\n\(listed)")
        #expect(report.acknowledged >= 30, "the workload made enough acknowledged edits to mean something: \(report.acknowledged)")
        #expect(report.faultCount >= 10, "the nemesis injected enough faults: \(report.faults)")
    }

    /// Found by the real-process run (seed 765570): handhelds syncing while PostgreSQL restarted
    /// were answered with 500s. A database that is down or restarting is a condition the server
    /// knows: it must say so with a transient 503 `storage-unavailable`, not fail as if broken.
    @Test("PostgreSQL restarted under concurrent pushes and pulls: requests succeed or get a 503, never a 500")
    func databaseRestartUnderLoad() async throws {
        let postgres = try await TestPostgres.start()
        do {
            try await Self.databaseRestartUnderLoad(postgres)
        } catch {
            await postgres.stop()
            throw error
        }
        await postgres.stop()
    }

    static func databaseRestartUnderLoad(_ postgres: TestPostgres) async throws {
        let scratch = Scratch("pg-restart")
        let server = ServerProcess(
            data: scratch.path("node"), storeArguments: ["--database-url", "\(postgres.url)?schema=restart", "--blobs", scratch.path("blobs").path])
        try await server.start()
        defer { server.terminate() }
        var handhelds: [(store: ClientStore, engine: SyncEngine, form: RecordID)] = []
        for n in 0..<6 {
            let token = try await server.addDevice("restart\(n)", role: .butler, zones: ["east-3"])
            let store = try ClientStore.open(home: scratch.path("h\(n)"))
            try store.initialize(name: "h\(n)", serverURL: server.url, token: token)
            var config = CurlTransport.Configuration(baseURL: server.url, token: token)
            config.connectTimeout = .seconds(2)
            config.requestTimeout = .seconds(8)
            let form = try store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "\(n)号楼")
            handhelds.append((store, SyncEngine(store: store, transport: CurlTransport(configuration: config)), form))
        }
        let answers = SharedSet()
        let slow = SharedSet()
        for restart in 0..<3 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await Task.sleep(for: .milliseconds(100 + 150 * restart))
                    try await postgres.restart()
                }
                for (n, handheld) in handhelds.enumerated() {
                    group.addTask {
                        let stop = ContinuousClock.now + .seconds(3)
                        var step = 0
                        while ContinuousClock.now < stop {
                            step += 1
                            try handheld.store.addNote(form: handheld.form, text: "restart \(restart) h\(n) #\(step)")
                            let started = ContinuousClock.now
                            do {
                                _ = try await handheld.engine.sync()
                                answers.insert(["ok"])
                            } catch let error as ClientError {
                                answers.insert(["\(error.code.rawValue): \(error.message.prefix(120))"])
                            }
                            let took = ContinuousClock.now - started
                            if took > .seconds(5) { slow.insert(["a sync took \(took.components.seconds) s"]) }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        for handheld in handhelds {
            _ = try await handheld.engine.sync()
            #expect(try handheld.store.status().pendingEdits == 0)
        }
        let failures = server.log.split(separator: "\n").filter { $0.contains("request failed") }
        print("database restarts under load: answers \(answers.contents.sorted())")
        #expect(!answers.contents.contains { $0.contains("HTTP 500") }, "\(answers.contents.sorted())")
        #expect(failures.isEmpty, "\(failures.prefix(3).joined(separator: "\n"))")
        // Open: now and then a request that meets the restart is not answered at all until the
        // client gives up (8 s here), though the database is back within a second.
        withKnownIssue("a request caught by a PostgreSQL restart can hang until the client's timeout", isIntermittent: true) {
            #expect(slow.contents.isEmpty, "\(slow.contents.sorted())")
        }
    }
}

/// The acknowledged-edit check on its own: it must find what it is there to find.
@Suite("Jepsen-style run: the acknowledged-edit check")
struct AcknowledgedEditTests {
    let form: RecordID
    let path: FieldPath
    let li: EditStamp
    let wang: EditStamp

    init() throws {
        form = try RecordID("form-check")
        path = try FieldPath("items", "tiles", "result")
        li = EditStamp(author: try Author(replica: ReplicaID("r-li"), name: "li"), time: HLCTimestamp(millis: 1))
        wang = EditStamp(author: try Author(replica: ReplicaID("r-wang"), name: "wang"), time: HLCTimestamp(millis: 2))
    }

    func edit(_ device: String, _ result: String) -> AcknowledgedEdit {
        AcknowledgedEdit(device: device, command: "form set \(form) tiles --result \(result)", record: form, effect: .entry(.init(path: ["items", "tiles", "result"], value: .string(result))))
    }

    @Test("an edit kept, or superseded by a later write that had seen it, is reflected; one never accepted or dropped without a later write is lost")
    func findsLostEdits() throws {
        var state = RecordState(id: form, type: .inspectionForm, zone: try Zone("east-3"))
        let defect = state.write(path, .string("defect"), stamp: li)
        let afterDefect = state
        // Wang had seen Li's defect and wrote "ok" over it: Li's edit is superseded, not lost.
        let ok = state.write(path, .string("ok"), stamp: wang)
        let audit = [(device: "li", delta: defect), (device: "wang", delta: ok)]
        #expect(AcknowledgedEdit.unreflected([edit("li", "defect"), edit("wang", "ok")], audit: audit, server: [state]).isEmpty)
        #expect(AcknowledgedEdit.unreflected([edit("li", "defect")], audit: audit, server: [afterDefect]).isEmpty)

        // An acknowledged edit the server never accepted.
        let never = AcknowledgedEdit.unreflected([edit("li", "na")], audit: audit, server: [state])
        #expect(never.count == 1 && never[0].contains("never accepted"), "\(never)")
        // Two acknowledged notes of the same text need two accepted entries.
        var noted = RecordState(id: form, type: .inspectionForm, zone: try Zone("east-3"))
        let note = noted.write(try FieldPath("notes", "n1"), ["text": "漏水"], stamp: li)
        let noteEdit = AcknowledgedEdit(device: "li", command: "form note", record: form, effect: .entry(.init(path: ["notes", "*"], value: ["text": "漏水"])))
        #expect(AcknowledgedEdit.unreflected([noteEdit], audit: [(device: "li", delta: note)], server: [noted]).isEmpty)
        let twice = AcknowledgedEdit.unreflected([noteEdit, noteEdit], audit: [(device: "li", delta: note)], server: [noted])
        #expect(twice.count == 1, "\(twice)")
        // The server forgot the later write, and with it the reason Li's entry could go.
        var forgetful = RecordState(id: form, type: .inspectionForm, zone: try Zone("east-3"))
        try forgetful.merge(ok)
        let dropped = AcknowledgedEdit.unreflected([edit("li", "defect")], audit: [(device: "li", delta: defect)], server: [forgetful])
        #expect(dropped.count == 1 && dropped[0].contains("no later write"), "\(dropped)")
        // Li wrote twice before pushing: the push carries the join, with only the later entry.
        var joined = RecordState(id: form, type: .inspectionForm, zone: try Zone("east-3"))
        var delta = joined.write(path, .string("ok"), stamp: li)
        try delta.merge(joined.write(path, .string("defect"), stamp: EditStamp(author: li.author, time: HLCTimestamp(millis: 3))))
        #expect(AcknowledgedEdit.unreflected([edit("li", "ok"), edit("li", "defect")], audit: [(device: "li", delta: delta)], server: [joined]).isEmpty)
        // …but the later one must be there.
        #expect(AcknowledgedEdit.unreflected([edit("li", "ok"), edit("li", "defect")], audit: [], server: [joined]).count == 1)
        // A record that is not on the server at all.
        let missing = AcknowledgedEdit.unreflected(
            [AcknowledgedEdit(device: "li", command: "form new", record: form, effect: .exists)], audit: audit, server: [])
        #expect(missing.count == 1 && missing[0].contains("not on the server"), "\(missing)")
    }
}

/// One real-process run: its processes, its nemesis, its history.
final class JepsenRun {
    static let clients = 5
    static let nodes = 2
    /// 24 rounds (`BUTLER_JEPSEN_ROUNDS` for a longer run).
    static let rounds = ProcessInfo.processInfo.environment["BUTLER_JEPSEN_ROUNDS"].flatMap { Int($0) }.map { max($0, 12) } ?? 24
    static let zone = "east-3"

    /// Why the run cannot happen on this machine, or nil.
    static var unavailable: String? {
        if let reason = TestNetwork.unavailable { return reason }
        if TestPostgres.binDirectory == nil { return "PostgreSQL is not installed (Tests/postgres.sh installs it)" }
        return nil
    }

    /// libfaketime's preload library (Debian's `faketime` package), if installed.
    static let faketime: String? = ["x86_64-linux-gnu", "aarch64-linux-gnu"].map { "/usr/lib/\($0)/faketime/libfaketime.so.1" }
        .first { FileManager.default.fileExists(atPath: $0) }

    struct Report {
        let violations: [String]
        let faults: [String: Int]
        let acknowledged: Int
        let notes: [String]
        var faultCount: Int { faults.values.reduce(0, +) }

        var summary: String {
            let kinds = faults.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            return "real-process run: \(JepsenRun.clients) clients, \(JepsenRun.nodes) nodes, \(faultCount) faults (\(kinds)), \(acknowledged) acknowledged edits, \(violations.count) violations"
        }
    }

    /// A handheld: a `butler --home` folder used only inside its namespace.
    struct Device {
        let index: Int
        let name: String
        let role: DeviceRole
        let home: URL
        let homeNode: Int
        var node: Int
        /// `FAKETIME` for its commands while its clock is shifted.
        var clock: String?
        var clockAhead = false
        /// Rounds left before the nemesis heals its link (nil: healthy).
        var faultyFor: Int?
        /// The last round in which a sync of it exited 0.
        var lastSync = -1
    }

    struct Form {
        let id: RecordID
        let creator: Int
        let items: [String]
        var published: Int?
        var submitted = false
        var submissionPublished: Int?
        var reviewed = false
    }

    struct Order {
        let id: RecordID
        let creator: Int
        var published: Int?
        var started = false
        var completed = false
        var completionPublished: Int?
    }

    /// A command planned for one device in one round.
    struct Operation: Sendable {
        let device: Int
        let arguments: [String]
        let clock: String?
        /// SIGKILL it this long after it started (if it still runs).
        let killAfter: Duration?
    }

    struct Outcome: Sendable {
        let status: Int32
        let stdout: String
        let stderr: String
        let killed: Bool
        var ok: Bool { status == 0 && !killed }
    }

    let network: TestNetwork
    let postgres: TestPostgres
    let scratch = Scratch("jepsen")
    let databaseURL: String
    var dice: Dice
    var servers: [ServerProcess] = []
    var devices: [Device] = []
    var forms: [Form] = []
    var orders: [Order] = []
    var photos: [URL] = []
    var acknowledged: [AcknowledgedEdit] = []
    var faults: [String: Int] = [:]
    var notes: [String] = []
    var failedCommands: [String: Int] = [:]
    /// What each node's earlier processes (before a kill) logged.
    var earlierLogs: [Int: String] = [:]
    /// Every 500 a handheld was answered with: `device: command: message`.
    var serverErrors: [String] = []
    /// Whether this round restarts PostgreSQL already (one restart at a time).
    var restartingDatabase = false
    /// Nodes killed, with the round at whose start each comes back.
    var deadNodes: [Int: Int] = [:]
    var round = 0
    var causes = Checker.Causes()
    var auditRead: Int64 = 0
    var causalViolations: [String] = []
    var sequence = 0
    /// Syncs run while the same handheld ran an edit command.
    var concurrentSyncs = 0
    /// Times a handheld was moved to the other node.
    var switches = 0
    /// Acknowledged commands by kind (`form set`, `sync`…), and those made under a shifted clock.
    var acknowledgedCommands: [String: Int] = [:]
    var acknowledgedShifted = 0

    var sharedBlobs: URL { scratch.path("shared-blobs") }

    init(seed: UInt64, network: TestNetwork, postgres: TestPostgres) {
        self.network = network
        self.postgres = postgres
        dice = Dice(seed: seed)
        databaseURL = "\(postgres.url)?schema=jepsen"
    }

    // MARK: the run

    func run() async throws -> Report {
        do {
            try await setUp()
            try await workload()
            try await heal()
            let report = try await check()
            await stopServers()
            return report
        } catch {
            await stopServers()
            throw error
        }
    }

    func stopServers() async {
        for server in servers { await server.stop() }
    }

    func setUp() async throws {
        let arguments = ["--database-url", databaseURL, "--blobs", sharedBlobs.path]
        // Node 0 picks a free port; node 1 listens on the same port at its own address, so the
        // one URL a handheld knows (`http://butler-node:PORT`) reaches either.
        let first = ServerProcess(data: scratch.path("node0"), host: network.nodeAddress(0), storeArguments: arguments)
        try await first.start()
        let second = ServerProcess(data: scratch.path("node1"), host: network.nodeAddress(1), port: first.port, storeArguments: arguments)
        try await second.start()
        servers = [first, second]
        let url = "http://\(TestNetwork.serverName):\(first.port)"
        for index in 0..<Self.clients {
            let supervisor = index == Self.clients - 1
            let name = supervisor ? "jp-supervisor" : "jp-butler\(index)"
            let token = try await first.addDevice(name, role: supervisor ? .supervisor : .butler, zones: [Self.zone])
            let device = Device(
                index: index, name: name, role: supervisor ? .supervisor : .butler, home: scratch.path(name), homeNode: index % Self.nodes,
                node: index % Self.nodes)
            let result = try await butler(device, ["init", "--server", url, "--token", token, "--name", name])
            guard result.ok else { throw TestFailure("butler init in \(network.namespace(index)) failed: \(result.stderr)") }
            devices.append(device)
        }
        // Small ones, and one of 3 MB whose upload a kill, a partition or a move to the other node
        // can cut halfway (it resumes from what the shared blob store holds).
        for n in 0..<4 {
            photos.append(try scratch.photo("photo\(n).jpg", bytes: n == 3 ? 3_000_000 : 30_000 + n * 70_000, seed: UInt64(n) + dice.next() % 1000))
        }
    }

    /// The rounds: before each, the nemesis acts; in each, every device runs one command, all at
    /// once, while a node may be killed or PostgreSQL restarted under them.
    func workload() async throws {
        // Faults that must happen in every run, each in a round of its own choosing.
        var planned: [Int: [String]] = [:]
        for fault in ["node-kill", "node-kill", "postgres-restart", "silent-partition", "clock-behind", "clock-ahead", "latency", "loss"] {
            planned[2 + Int(dice.next() % UInt64(Self.rounds - 5)), default: []].append(fault)
        }
        for round in 0..<Self.rounds {
            self.round = round
            var during: [@Sendable () async throws -> Void] = []
            restartingDatabase = false
            try await restartNodes(dueBy: round)
            try await relieveLinks()
            for fault in planned[round] ?? [] { try await inject(fault, during: &during) }
            if dice.chance(0.35) { try await inject("partition", during: &during) }
            if dice.chance(0.2) { try await inject("failover", during: &during) }
            if dice.chance(0.15) { try await inject("heal", during: &during) }
            if dice.chance(0.1) { try await inject(dice.chance(0.5) ? "clock-behind" : "clock-ahead", during: &during) }
            if dice.chance(0.03) { try await inject("node-kill", during: &during) }
            if dice.chance(0.02) { try await inject("postgres-restart", during: &during) }
            // A node killed or the database restarted mid-round: most handhelds sync into it.
            let operations = devices.map { device in
                during.isEmpty || !dice.chance(0.8)
                    ? plan(for: device) : Operation(device: device.index, arguments: ["sync", "--quiet"], clock: device.clock, killAfter: nil)
            }
            // A handheld's daemon syncing while its butler edits: the same store, two processes.
            var alongside: [Operation] = []
            for operation in operations where operation.arguments[0] != "sync" && dice.chance(0.25) {
                let kill = dice.chance(0.2) ? Duration.milliseconds(10 + Int(dice.next() % 250)) : nil
                alongside.append(Operation(device: operation.device, arguments: ["sync", "--quiet"], clock: operation.clock, killAfter: kill))
            }
            concurrentSyncs += alongside.count
            let all = operations + alongside
            let outcomes = try await execute(all, during: during)
            for (operation, outcome) in zip(all, outcomes) { record(operation, outcome) }
            if round % 6 == 5 { try await checkCauses() }
        }
    }

    // MARK: the nemesis

    func inject(_ fault: String, during: inout [@Sendable () async throws -> Void]) async throws {
        switch fault {
        case "node-kill":
            let node = Int(dice.next() % UInt64(Self.nodes))
            guard deadNodes[node] == nil, deadNodes.isEmpty else { return }
            let server = servers[node]
            let delay = Duration.milliseconds(Int(dice.next() % 500))
            deadNodes[node] = round + 1 + Int(dice.next() % 2)
            faults["node kill -9", default: 0] += 1
            during.append { try await Task.sleep(for: delay); await server.kill() }
        case "postgres-restart":
            guard !restartingDatabase else { return }
            restartingDatabase = true
            let postgres = self.postgres
            let delay = Duration.milliseconds(Int(dice.next() % 500))
            faults["postgres restart", default: 0] += 1
            during.append { try await Task.sleep(for: delay); try await postgres.restart() }
        case "silent-partition", "partition":
            let device = Int(dice.next() % UInt64(Self.clients))
            let node = dice.chance(0.7) ? devices[device].node : Int(dice.next() % UInt64(Self.nodes))
            let silent = fault == "silent-partition"
            try await network.partition(device, from: node, silent: silent)
            devices[device].faultyFor = silent ? 2 : 2 + Int(dice.next() % 3)
            faults[silent ? "partition (silent)" : "partition", default: 0] += 1
        case "latency", "loss":
            let device = Int(dice.next() % UInt64(Self.clients))
            let link: TestNetwork.LinkFault =
                fault == "latency" ? .latency(milliseconds: 50 + Int(dice.next() % 150), jitter: 20) : .loss(percent: 5 + Int(dice.next() % 15))
            if let applied = try await network.degrade(device, link) {
                devices[device].faultyFor = 3
                faults[applied, default: 0] += 1
            } else {
                note("\(fault) not injected: this kernel has neither netem nor nftables")
            }
        case "clock-behind", "clock-ahead":
            guard Self.faketime != nil else {
                note("clock shift not injected: libfaketime is not installed (Debian package faketime)")
                return
            }
            let device = Int(dice.next() % UInt64(Self.clients))
            // Ahead by at most two days: within the 7 days a hybrid logical clock follows (SYNC.md §4).
            let shifts = fault == "clock-ahead" ? ["+1h", "+6h", "+2d"] : ["-1h", "-6h", "-3d"]
            devices[device].clock = shifts[Int(dice.next() % 3)]
            devices[device].clockAhead = fault == "clock-ahead"
            faults["clock shift", default: 0] += 1
        case "failover":
            let device = Int(dice.next() % UInt64(Self.clients))
            devices[device].node = (devices[device].node + 1) % Self.nodes
            try network.point(device, at: devices[device].node)
            switches += 1
        case "heal":
            let device = Int(dice.next() % UInt64(Self.clients))
            try await network.heal(client: device)
            devices[device].faultyFor = nil
            devices[device].clock = nil
            devices[device].clockAhead = false
        default:
            Issue.record("unknown fault \(fault)")
        }
    }

    /// Adds a line to the report, once.
    func note(_ line: String) {
        if !notes.contains(line) { notes.append(line) }
    }

    func restartNodes(dueBy round: Int) async throws {
        for (node, due) in deadNodes.sorted(by: { $0.key < $1.key }) where due <= round {
            earlierLogs[node, default: ""] += servers[node].log
            try await servers[node].start()
            deadNodes[node] = nil
        }
    }

    /// Links heal by themselves after a few rounds, so the run stays bounded in time.
    func relieveLinks() async throws {
        for index in devices.indices {
            guard let left = devices[index].faultyFor else { continue }
            if left <= 1 {
                try await network.heal(client: index)
                devices[index].faultyFor = nil
            } else {
                devices[index].faultyFor = left - 1
            }
        }
    }

    // MARK: the workload

    func knows(_ device: Device, creator: Int, published: Int?) -> Bool {
        creator == device.index || (published.map { device.lastSync > $0 } ?? false)
    }

    func text(_ device: Device) -> String {
        sequence += 1
        return "jp \(device.name) #\(sequence)"
    }

    /// One command for `device`, drawn from the dice.
    func plan(for device: Device) -> Operation {
        let knownForms = forms.filter { knows(device, creator: $0.creator, published: $0.published) }
        let knownOrders = orders.filter { knows(device, creator: $0.creator, published: $0.published) }
        var clock = device.clock
        var args: [String]
        var killAfter: Duration?
        let roll = Double(dice.next() % 1000) / 1000
        if roll < 0.28 {
            args = ["sync", "--quiet"]
            if dice.chance(0.35) { killAfter = .milliseconds(10 + Int(dice.next() % 600)) }
        } else if device.role == .supervisor {
            let submitted = knownForms.filter { !$0.reviewed && ($0.submissionPublished.map { device.lastSync > $0 } ?? false) }
            if let form = pick(submitted), roll < 0.6 {
                args = ["form", "review", form.id.rawValue, "--note", text(device)]
            } else if let form = pick(knownForms) {
                args = ["form", "note", form.id.rawValue, text(device)]
            } else {
                args = ["sync", "--quiet"]
            }
        } else if knownForms.isEmpty || (roll < 0.3 && forms.count < 8 + round / 6) {
            let template = dice.chance(0.6) ? "building-patrol" : "public-area"
            args = ["form", "new", "--template", template, "--zone", Self.zone, "--place", "\(device.index + 1)号楼 \(sequence)"]
        } else if roll < 0.62 || device.clockAhead {
            // Form edits: the only commands a device whose clock runs ahead makes, since a callback
            // dated ahead of the server is held back until the server's time catches up (§5.3).
            let form = pick(knownForms)!
            let item = form.items[Int(dice.next() % UInt64(form.items.count))]
            let pick = dice.next() % 10
            if pick < 5 {
                let result = ["ok", "defect", "na", "defect", "ok"][Int(dice.next() % 5)]
                args = ["form", "set", form.id.rawValue, item, "--result", result] + (dice.chance(0.3) ? ["--note", text(device)] : [])
            } else if pick < 7 {
                args = ["form", "note", form.id.rawValue, text(device)]
            } else if pick < 9 {
                args = ["photo", "add", form.id.rawValue, photos[Int(dice.next() % UInt64(photos.count))].path, "--item", item]
            } else if form.creator == device.index, !form.submitted, round >= Self.rounds / 3, dice.chance(0.5) {
                args = ["form", "submit", form.id.rawValue]
            } else {
                args = ["form", "note", form.id.rawValue, text(device)]
            }
        } else if roll < 0.72, orders.count < 4 + round / 8 {
            args = ["workorder", "new", "--zone", Self.zone, "--place", "B\(device.index + 1) \(sequence)", "--category", "general"]
        } else if let order = pick(orders.filter { $0.creator == device.index && !$0.completed }) {
            args = ["workorder", order.started ? "complete" : "start", order.id.rawValue]
        } else if let order = pick(knownOrders.filter { $0.completionPublished.map { device.lastSync > $0 } ?? ($0.completed && $0.creator == device.index) }) {
            let reached = dice.chance(0.6)
            let satisfaction = dice.chance(0.5) ? "satisfied" : "unsatisfied"
            args = ["callback", "log", order.id.rawValue, "--channel", reached ? "visit" : "phone", "--reached", reached ? "yes" : "no"]
                + (reached ? ["--satisfaction", satisfaction] : []) + ["--note", text(device)]
        } else {
            args = ["sync", "--quiet"]
        }
        if args[0] == "callback" || args[0] == "workorder", device.clockAhead { clock = nil }
        return Operation(device: device.index, arguments: args, clock: clock, killAfter: killAfter)
    }

    func pick<T>(_ choices: [T]) -> T? {
        choices.isEmpty ? nil : choices[Int(dice.next() % UInt64(choices.count))]
    }

    /// Runs the round's commands at once, with the nemesis's mid-round actions beside them.
    func execute(_ operations: [Operation], during: [@Sendable () async throws -> Void]) async throws -> [Outcome] {
        let homes = devices.map(\.home)
        let network = self.network
        return try await withThrowingTaskGroup(of: (Int, Outcome?).self) { group in
            for action in during {
                group.addTask {
                    try await action()
                    return (-1, nil)
                }
            }
            for (index, operation) in operations.enumerated() {
                group.addTask { (index, try await Self.run(operation, home: homes[operation.device], network: network)) }
            }
            var outcomes = [Outcome?](repeating: nil, count: operations.count)
            for try await (index, outcome) in group where index >= 0 { outcomes[index] = outcome }
            return outcomes.map { $0! }
        }
    }

    static func run(_ operation: Operation, home: URL, network: TestNetwork) async throws -> Outcome {
        var command = (Binaries.url("butler"), ["--home", home.path] + operation.arguments)
        if let clock = operation.clock, let faketime {
            // Preloaded into butler only, through env (which execs it): a process that execs
            // another under libfaketime (0.9.10) leaks its shared-memory segment. Without a
            // segment (DISABLE_SHM, and SHARED naming none) libfaketime also leaves the environment
            // alone, which a Swift program started under the preload needs to see its arguments.
            let variables = [
                "LD_PRELOAD=\(faketime)", "FAKETIME=\(clock)", "FAKETIME_DONT_FAKE_MONOTONIC=1", "FAKETIME_DISABLE_SHM=1",
                "FAKETIME_SHARED=/butler-none /butler-none",
            ]
            command = (URL(fileURLWithPath: "/usr/bin/env"), variables + [command.0.path] + command.1)
        }
        let (url, arguments) = network.command(operation.device, command.0, command.1)
        let child = try ChildProcess(url, arguments)
        var killed = false
        if let after = operation.killAfter {
            try await Task.sleep(for: after)
            if child.isRunning {
                killed = await child.stop(SIGKILL).signalled
            }
        }
        let (exit, timedOut) = await child.exit(within: .seconds(40))
        await child.stdout?.end()
        await child.stderr?.end()
        if operation.clock != nil {
            // A butler killed under libfaketime leaves its segment behind (its destructor never ran).
            for file in ["faketime_shm_\(child.pid)", "sem.faketime_sem_\(child.pid)"] { try? FileManager.default.removeItem(atPath: "/dev/shm/\(file)") }
        }
        return Outcome(
            status: exit.signalled ? -exit.status : exit.status, stdout: child.stdout?.text ?? "", stderr: child.stderr?.text ?? "",
            killed: killed || timedOut)
    }

    func butler(_ device: Device, _ arguments: [String]) async throws -> Outcome {
        try await Self.run(Operation(device: device.index, arguments: arguments, clock: nil, killAfter: nil), home: device.home, network: network)
    }

    // MARK: the history

    /// Learns from one finished command: what it created, and what it promised if it exited 0.
    func record(_ operation: Operation, _ outcome: Outcome) {
        let index = operation.device
        let device = devices[index]
        let args = operation.arguments
        let command = args.joined(separator: " ") + (operation.clock.map { " (clock \($0))" } ?? "")
        if outcome.killed {
            faults["client kill -9", default: 0] += 1
            return
        }
        guard outcome.ok else {
            if outcome.stderr.contains("HTTP 5"), !outcome.stderr.contains("HTTP 503") {
                serverErrors.append("\(device.name): \(command): \(outcome.stderr.trimmingCharacters(in: .whitespacesAndNewlines).prefix(300))")
            }
            let line = outcome.stderr.split(separator: "\n").last.map(String.init) ?? "exit \(outcome.status)"
            let reason = line.replacing(/(form|wo|cb|callback)-[0-9a-f-]{8,}/, with: "ID").prefix(90)
            failedCommands["\(args[0]) \(args.count > 1 ? args[1] : ""): \(reason)", default: 0] += 1
            return
        }
        let printed = outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        acknowledgedCommands["\(args[0]) \(args[1])".replacingOccurrences(of: " --quiet", with: ""), default: 0] += 1
        if operation.clock != nil { acknowledgedShifted += 1 }
        func promise(_ record: RecordID, _ effect: AcknowledgedEdit.Effect) {
            acknowledged.append(AcknowledgedEdit(device: device.name, command: command, record: record, effect: effect))
        }
        func entry(_ path: [String], _ value: JSONValue?) -> AcknowledgedEdit.Effect { .entry(.init(path: path, value: value)) }
        do {
            switch (args[0], args.count > 1 ? args[1] : "") {
            case ("sync", _):
                devices[index].lastSync = round
                for n in forms.indices where forms[n].creator == index {
                    if forms[n].published == nil { forms[n].published = round }
                    if forms[n].submitted, forms[n].submissionPublished == nil { forms[n].submissionPublished = round }
                }
                for n in orders.indices where orders[n].creator == index {
                    if orders[n].published == nil { orders[n].published = round }
                    if orders[n].completed, orders[n].completionPublished == nil { orders[n].completionPublished = round }
                }
            case ("form", "new"):
                let id = try RecordID(printed)
                let template = try TemplateCatalog.bundled().template(args[3])
                forms.append(Form(id: id, creator: index, items: Array(template.items.prefix(4).map(\.key))))
                promise(id, .exists)
            case ("form", "set"):
                let id = try RecordID(args[2])
                promise(id, entry(["items", args[3], "result"], .string(args[5])))
                if args.count > 7 { promise(id, entry(["items", args[3], "notes", "*"], ["text": .string(args[7])])) }
            case ("form", "note"):
                promise(try RecordID(args[2]), entry(["notes", "*"], ["text": .string(args[3])]))
            case ("photo", "add"):
                promise(try RecordID(args[2]), entry(["items", args[5], "photos", printed], nil))
            case ("form", "submit"):
                if let n = forms.firstIndex(where: { $0.id.rawValue == args[2] }) { forms[n].submitted = true }
                promise(try RecordID(args[2]), entry(["status"], ["state": "submitted"]))
            case ("form", "review"):
                if let n = forms.firstIndex(where: { $0.id.rawValue == args[2] }) { forms[n].reviewed = true }
                promise(try RecordID(args[2]), entry(["status"], ["state": "reviewed"]))
                promise(try RecordID(args[2]), entry(["review", "notes", "*"], ["text": .string(args[4])]))
            case ("workorder", "new"):
                let id = try RecordID(printed)
                orders.append(Order(id: id, creator: index))
                promise(id, .exists)
            case ("workorder", "start"):
                if let n = orders.firstIndex(where: { $0.id.rawValue == args[2] }) { orders[n].started = true }
                promise(try RecordID(args[2]), entry(["startedAt"], nil))
            case ("workorder", "complete"):
                if let n = orders.firstIndex(where: { $0.id.rawValue == args[2] }) { orders[n].completed = true }
                promise(try RecordID(args[2]), entry(["completedAt"], nil))
            case ("callback", "log"):
                let note = args[args.count - 1]
                promise(try CallbackRecord.recordID(for: RecordID(args[2])), entry(["attempts", "*"], ["note": .string(note)]))
            default:
                Issue.record("no history for \(command)")
            }
        } catch {
            Issue.record("could not read what \(command) printed (\(printed)): \(error)")
        }
    }

    // MARK: reading and checking

    func readServer() async throws -> (audit: [AuditEntry], records: [RecordState]) {
        var configuration = ServerConfiguration()
        configuration.databaseURL = databaseURL
        configuration.blobsOverride = sharedBlobs
        configuration.dataDirectory = scratch.path("reader")
        let after = auditRead
        return try await ButlerServer.withStorage(configuration) { storage, _ in
            var audit: [AuditEntry] = []
            while true {
                let page = try await storage.auditEntries(after: audit.last?.seq ?? after, record: nil, limit: 500)
                audit += page
                if page.count < 500 { break }
            }
            return (audit, try await storage.records(zones: [try Zone(Self.zone)]))
        }
    }

    /// Causal consistency while the run goes on: no device shows an effect without its cause.
    func checkCauses() async throws {
        let (audit, _) = try await readServer()
        for entry in audit { causes.record(try JSONParser.parseRecordState(entry.delta)) }
        auditRead = audit.last?.seq ?? auditRead
        for device in devices {
            let store = try ClientStore.open(home: device.home)
            causalViolations += causes.violations(of: device.name, records: try store.allRecords())
        }
    }

    /// Every fault removed, every clock right, every node up; then `butler sync` everywhere until
    /// one whole round succeeds, and one more so each device pulls what the last pushers sent.
    func heal() async throws {
        for index in devices.indices {
            try await network.heal(client: index)
            try network.point(index, at: devices[index].homeNode)
            devices[index].clock = nil
            devices[index].clockAhead = false
            devices[index].faultyFor = nil
        }
        try await restartNodes(dueBy: Int.max)
        try await checkCauses()
        var clean = 0
        var rounds = 0
        var lastErrors: [String: String] = [:]
        while clean < 2, rounds < 8 {
            rounds += 1
            round = Self.rounds + rounds
            let operations = devices.map { Operation(device: $0.index, arguments: ["sync", "--quiet"], clock: nil, killAfter: nil) }
            var outcomes: [Outcome] = []
            for operation in operations {
                outcomes.append(try await Self.run(operation, home: devices[operation.device].home, network: network))
            }
            lastErrors = [:]
            for (operation, outcome) in zip(operations, outcomes) {
                if !outcome.ok { lastErrors[devices[operation.device].name] = outcome.stderr.trimmingCharacters(in: .whitespacesAndNewlines) }
                record(operation, outcome)
            }
            clean = lastErrors.isEmpty ? clean + 1 : 0
        }
        self.lastErrors = lastErrors
        notes.append("healed in \(rounds) sync round(s)")
    }

    var lastErrors: [String: String] = [:]

    func check() async throws -> Report {
        try await checkCauses()
        auditRead = 0
        let (audit, server) = try await readServer()
        let accepted = try audit.map { try JSONParser.parseRecordState($0.delta) }
        let zone = try Zone(Self.zone)
        let replicas = try devices.map { device in
            try ReplicaSnapshot(name: device.name, zones: [zone], store: ClientStore.open(home: device.home), lastSyncError: lastErrors[device.name])
        }
        var violations = Checker.violations(accepted: accepted, server: server, replicas: replicas)
        violations += causalViolations
        violations += AcknowledgedEdit.unreflected(acknowledged, audit: zip(audit, accepted).map { ($0.device, $1) }, server: server)
        // Every acknowledged photo's bytes are on the shared blob store.
        for edit in acknowledged where edit.command.hasPrefix("photo add") {
            if case .entry(let entry) = edit.effect, let sha = entry.path.last,
                !FileManager.default.fileExists(atPath: sharedBlobs.appendingPathComponent(sha).path)
            {
                violations.append("acknowledged photo \(sha) (\(edit)) is not in the server's blob store")
            }
        }
        // A 500 is a bug whatever the fault: the server's log names each one.
        for (node, server) in servers.enumerated() {
            let failures = (earlierLogs[node, default: ""] + server.log).split(separator: "\n").filter { $0.contains("request failed") }
            for line in failures.prefix(5) { violations.append("node\(node) answered a request with a 500: \(line.prefix(600))") }
        }
        for error in serverErrors.prefix(5) { violations.append("a handheld was answered with a server error: \(error)") }
        for (node, server) in servers.enumerated() {
            let lines = (earlierLogs[node, default: ""] + server.log).split(separator: "\n").filter { $0.contains("warning") || $0.contains("error") }
            if !lines.isEmpty { notes.append("node\(node) logged \(lines.count) warning(s)/error(s), the first: \(lines[0].prefix(240))") }
        }
        notes.append("\(audit.count) accepted deltas in the audit log, \(server.count) records on the server, \(forms.count) forms, \(orders.count) work orders")
        notes.append(
            "commands that exited 0: " + acknowledgedCommands.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                + "; \(acknowledgedShifted) of them under a shifted clock; handhelds moved to the other node \(switches) time(s); \(concurrentSyncs) syncs ran beside an edit on the same handheld")
        notes.append("failed commands (expected under faults): " + failedCommands.sorted { $0.value > $1.value }.prefix(12).map { "\($0.key) ×\($0.value)" }.joined(separator: "; "))
        return Report(violations: violations, faults: faults, acknowledged: acknowledged.count, notes: notes)
    }
}

/// The run's one source of choices (SplitMix64), so a seed replays the schedule.
struct Dice {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func chance(_ p: Double) -> Bool { Double(next() % 1_000_000) / 1_000_000 < p }
}
