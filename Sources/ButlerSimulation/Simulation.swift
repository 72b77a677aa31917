import ButlerClient
import ButlerModel
import ButlerServer
import ButlerTestSupport
import Foundation
import Logging
import Synchronization

/// What a simulated run does: how long, how many devices and server nodes, which faults how often.
public struct SimulationOptions: Sendable {
    public var seed: UInt64 = 1
    /// Simulated hours of wall time; every device lives through all of them.
    public var hours: Double = 24 * 30
    public var devices = 6
    public var nodes = 1
    public var network = NetworkFaults()
    /// Per device and step (15 simulated minutes).
    public var crash = 0.002
    public var partition = 0.004
    public var clock = 0.001
    /// A backup of the device's store is taken (per device and step)…
    public var backup = 0.0006
    /// …and the device is restored from its latest backup, losing what it did since.
    public var restore = 0.0003
    /// A rogue handheld in zone z0 pushes a forged delta (per step).
    public var rogue = 0.02
    /// The device's store is copied onto a second handheld that carries on with the same token
    /// (at most two clones a run).
    public var clone = 0.0003
    /// Where the devices' and the server's files go (a fresh folder is made inside).
    public var directory = URL(fileURLWithPath: NSTemporaryDirectory())
    /// A bug planted on purpose, to show the checks find it (tests only).
    public var sabotage: Sabotage?
    /// The server's store on PostgreSQL at this URL (a schema of the run's own is made in it);
    /// `nil`: the embedded SQLite store.
    public var databaseURL: String?

    /// Every fault's probability by the name `--fault NAME=P` takes (message faults per call, the
    /// others per device and 15-minute step; `rogue-delta` per step).
    public static let faultNames = [
        "message-dropped", "reply-lost", "message-duplicated", "message-delayed", "body-cut", "server-crash", "device-crash",
        "device-crash-mid-sync", "partition", "clock",
        "backup", "backup-restored", "device-cloned", "rogue-delta",
    ]

    public func rate(_ name: String) -> Double? {
        switch name {
        case "message-dropped": network.drop
        case "reply-lost": network.loseReply
        case "message-duplicated": network.duplicate
        case "message-delayed": network.delay
        case "device-crash-mid-sync": network.deviceCrash
        case "body-cut": network.cut
        case "server-crash": network.serverCrash
        case "device-crash": crash
        case "partition": partition
        case "clock": clock
        case "backup": backup
        case "backup-restored": restore
        case "device-cloned": clone
        case "rogue-delta": rogue
        default: nil
        }
    }

    /// Sets a fault's probability; `false` for a name that is not a fault's.
    @discardableResult
    public mutating func setRate(_ name: String, _ value: Double) -> Bool {
        switch name {
        case "message-dropped": network.drop = value
        case "reply-lost": network.loseReply = value
        case "message-duplicated": network.duplicate = value
        case "message-delayed": network.delay = value
        case "device-crash-mid-sync": network.deviceCrash = value
        case "body-cut": network.cut = value
        case "server-crash": network.serverCrash = value
        case "device-crash": crash = value
        case "partition": partition = value
        case "clock": clock = value
        case "backup": backup = value
        case "backup-restored": restore = value
        case "device-cloned": clone = value
        case "rogue-delta": rogue = value
        default: return false
        }
        return true
    }

    /// Bugs the tests plant to prove the checker is not blind.
    public enum Sabotage: Sendable {
        /// The record of one acknowledged delta is forgotten, as if the server had lost it.
        case forgetAcknowledgedDelta
        /// One device makes an edit after the final sync: it never reaches the server.
        case editAfterFinalSync
    }

    public init() {}
}

/// How a run ended.
public struct SimulationResult: Sendable {
    public let options: SimulationOptions
    public let deviceHours: Double
    public let faults: [FaultKind: Int]
    public let violations: [String]
    /// SHA-256 over the server's final records (and the run's counts): the same seed and options
    /// give the same digest.
    public let digest: String
    public let edits: Int
    public let syncs: Int
    /// Edits the devices' own checks refused at once (honest mistakes), by code.
    public let refusedAtOnce: [String: Int]
    /// The rogue device's forgeries the server refused, by code.
    public let rogueRefused: [String: Int]
    public let records: Int

    public var faultCount: Int { faults.values.reduce(0, +) }

    /// The contract's last line.
    public var summary: String {
        "simulated \(Int(deviceHours.rounded())) device-hours, \(faultCount) faults, \(violations.count) violations, digest \(digest)"
    }

    /// The one command that replays this run.
    public var replayCommand: String {
        let defaults = SimulationOptions()
        let faults = SimulationOptions.faultNames.filter { options.rate($0) != defaults.rate($0) }.map { " --fault \($0)=\(options.rate($0)!)" }
        let database = options.databaseURL == nil ? "" : " --database-url \"$BUTLER_SIM_DATABASE_URL\""
        return "swift run -c release butler-sim --seed \(options.seed) --hours \(Self.number(options.hours)) --devices \(options.devices) --nodes \(options.nodes)"
            + faults.joined() + database
    }

    static func number(_ value: Double) -> String { value == value.rounded() ? String(Int(value)) : String(value) }
}

/// The deterministic simulation of the whole sync system (issue 14, first part): real client
/// stores on disk, real sync engines, the real server router and storage, in one process, with
/// every clock, random choice and id injected from one seed. Time is simulated: nothing sleeps.
public enum Simulation {
    /// One simulated step.
    static let step: TimeInterval = 15 * 60
    /// Monday 2026-11-02 00:00 at UTC+8.
    static let start = Date(timeIntervalSince1970: 1_793_980_800 - 8 * 3600)

    public static func run(_ options: SimulationOptions) async throws -> SimulationResult {
        guard options.devices >= 2, options.devices <= 64 else { throw ConfigurationError(.invalidConfiguration, "--devices must be 2…64") }
        guard options.nodes >= 1, options.nodes <= 3 else { throw ConfigurationError(.invalidConfiguration, "--nodes must be 1…3") }
        guard options.hours > 0, options.hours <= 1e8 else { throw ConfigurationError(.invalidConfiguration, "--hours must be above 0") }
        let folder = options.directory.appendingPathComponent("butler-sim-\(options.seed)-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        let backend: Backend = options.databaseURL == nil ? .sqlite : .postgres
        let schema = options.databaseURL.map { "\($0)\($0.contains("?") ? "&" : "?")schema=sim_\(options.seed)_\(ProcessInfo.processInfo.processIdentifier)_\(runs.add(1, ordering: .relaxed).newValue)" }
        let time = SimulatedTime(start: start)
        let decisions = DecisionSource(seed: options.seed)
        let observations = Observations()
        return try await InProcessServer.with(backend, directory: folder.appendingPathComponent("server"), databaseURL: schema, configure: { config in
            config.clock = time
            config.entropy = SeededEntropy(seed: options.seed ^ 0x5EED_5E12_7E12)
            // A simulated crash is a re-open in this process, never a power cut: fsyncs prove nothing here.
            config.durability = .processCrash
        }) { first in
            let nodes = [first] + (1..<options.nodes).map { first.sibling(named: "node\($0)") }
            var world = try await World(options: options, folder: folder, time: time, nodes: nodes, decisions: decisions, observations: observations)
            try await world.live()
            try await world.heal()
            try world.plant(options.sabotage)
            return try await world.check()
        }
    }
}

extension Simulation {
    /// Runs made in this process: names each PostgreSQL run's schema.
    static let runs = Atomic<Int>(0)

    /// Shrinks a failing run to a smaller one that still fails, greedily: fewer hours, fewer
    /// devices, one node, then each fault turned off in turn, keeping every change after which a
    /// run from the same seed still has a violation. At most `budget` runs; `progress` hears each
    /// try. Returns the smallest failing run found (`failing` itself when nothing smaller fails).
    public static func shrink(
        _ failing: SimulationResult, budget: Int = 24, progress: (String) -> Void = { _ in }
    ) async throws -> SimulationResult {
        var best = failing
        var runs = 0
        func attempt(_ change: String, _ edit: (inout SimulationOptions) -> Void) async throws -> Bool {
            guard runs < budget else { return false }
            var options = best.options
            edit(&options)
            runs += 1
            let result = try await run(options)
            progress("shrink \(runs)/\(budget): \(change): \(result.violations.count) violations")
            guard !result.violations.isEmpty else { return false }
            best = result
            return true
        }
        while best.options.hours >= 2, try await attempt("hours \(SimulationResult.number(best.options.hours / 2))", { $0.hours = ($0.hours / 2).rounded(.up) }) {}
        while best.options.devices > 2, try await attempt("devices \(max(2, best.options.devices / 2))", { $0.devices = max(2, $0.devices / 2) }) {}
        if best.options.nodes > 1 { _ = try await attempt("nodes 1") { $0.nodes = 1 } }
        for name in SimulationOptions.faultNames where (best.options.rate(name) ?? 0) > 0 {
            _ = try await attempt("no \(name)") { $0.setRate(name, 0) }
        }
        return best
    }
}

/// The seeded decisions, shared by the loop and the transports' fault choices (called in a fixed
/// order: the run is sequential).
final class DecisionSource: Sendable {
    private let state: Mutex<Decisions>
    init(seed: UInt64) { state = Mutex(Decisions(seed: seed)) }
    func draw<T>(_ body: (inout Decisions) -> T) -> T { state.withLock { body(&$0) } }
}

/// Whether a device is cut off from every server (a partition), read by its transport.
final class Link: Sendable {
    let offline = Atomic<Bool>(false)
}

/// One simulated handheld: its durable store on disk, its engine, its clock and its link.
final class Device {
    let name: String
    let role: DeviceRole
    let zones: [Zone]
    var home: URL
    let token: String
    let clock: DeviceClock
    let entropy: SeededEntropy
    let link = Link()
    var store: ClientStore
    var engine: SyncEngine
    var node: Int
    /// Cut off from every server until then.
    var offlineUntil: Date?
    /// A copy of the home folder taken earlier (the store closed in between: a consistent copy).
    var backup: URL?

    init(name: String, role: DeviceRole, zones: [Zone], home: URL, token: String, clock: DeviceClock, entropy: SeededEntropy, store: ClientStore, engine: SyncEngine, node: Int) {
        self.name = name
        self.role = role
        self.zones = zones
        self.home = home
        self.token = token
        self.clock = clock
        self.entropy = entropy
        self.store = store
        self.engine = engine
        self.node = node
    }
}
