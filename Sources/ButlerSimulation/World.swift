import ButlerClient
import ButlerModel
import ButlerServer
import ButlerTestSupport
import Foundation
import Logging

/// The devices, the server nodes and the run's bookkeeping.
struct World {
    let options: SimulationOptions
    let folder: URL
    let time: SimulatedTime
    var nodes: [InProcessServer]
    let decisions: DecisionSource
    let observations: Observations
    var devices: [Device] = []
    var edits = 0
    var syncs = 0
    var refusedAtOnce: [String: Int] = [:]
    /// Faults injected outside the transports (partitions, crashes, clocks).
    var faults: [FaultKind: Int] = [:]
    /// Set while healing: no fault strikes.
    let calm = Link()
    /// Why each device's last sync failed, if it did: named in the violations it explains.
    var lastSyncError: [String: String] = [:]
    /// The causes of every acknowledged value, fed from the accepted log up to `causesFed`.
    var causes = Checker.Causes()
    var causesFed = 0
    /// Per device: the records changed on the server since its last causal check.
    var unchecked: [String: Set<RecordID>] = [:]
    /// Effects a device showed without their causes, found while the run went on.
    var causalViolations: [String] = []
    /// Backups and restored homes made so far (names their folders), clones set up, and the
    /// device-hours the clones lived.
    var copies = 0
    var clones = 0
    var cloneHours = 0.0
    /// Photos whose only copy a backup restore destroyed.
    var destroyedPhotos: Set<String> = []
    /// The rogue handheld, and what its forgeries got past the server.
    var rogue: Rogue?
    var rogueViolations: [String] = []
    /// The rogue's forgeries the server refused, by code.
    var rogueRefused: [String: Int] = [:]

    static let templates = ["building-patrol", "public-area", "cleaning-greening"]

    init(
        options: SimulationOptions, folder: URL, time: SimulatedTime, nodes: [InProcessServer], decisions: DecisionSource, observations: Observations
    ) async throws {
        self.options = options
        self.folder = folder
        self.time = time
        self.nodes = nodes
        self.decisions = decisions
        self.observations = observations
        // Butlers in zones of about four; one supervisor per zone pair, for both zones.
        let zoneCount = max(1, options.devices / 4)
        let zones = try (0..<zoneCount).map { try Zone("z\($0)") }
        for index in 0..<options.devices {
            let supervisor = index % 4 == 3
            let zone = zones[index % zoneCount]
            let mine = supervisor ? Array(zones.filter { $0 == zone || zones.firstIndex(of: $0)! == (zones.firstIndex(of: zone)! + 1) % zoneCount }) : [zone]
            let name = "\(supervisor ? "sup" : "butler")\(index)"
            let token = try await nodes[0].addDevice(name, role: supervisor ? .supervisor : .butler, zones: mine.map(\.rawValue))
            let home = folder.appendingPathComponent(name)
            let clock = DeviceClock(base: time)
            let entropy = SeededEntropy(seed: options.seed &* 31 &+ UInt64(index) &+ 1)
            let store = try Self.openStore(home: home, clock: clock, entropy: entropy)
            try store.initialize(name: name, serverURL: nodes[index % nodes.count].url, token: token)
            let node = index % nodes.count
            let device = Device(
                name: name, role: supervisor ? .supervisor : .butler, zones: mine, home: home, token: token, clock: clock, entropy: entropy,
                store: store, engine: SyncEngine(store: store, transport: NullTransport()), node: node)
            device.engine = Self.engine(for: device, store: store, node: nodes[node], decisions: decisions, observations: observations, options: options, calm: calm)
            devices.append(device)
        }
        if options.rogue > 0 {
            let token = try await nodes[0].addDevice(Rogue.name, role: .butler, zones: [zones[0].rawValue])
            rogue = Rogue(token: token, zone: zones[0], replica: try await nodes[0].transport(token: token).issueReplica())
        }
    }

    static func openStore(home: URL, clock: DeviceClock, entropy: SeededEntropy) throws -> ClientStore {
        var logger = Logger(label: "butler.sim.store")
        logger.logLevel = .critical
        // A crash here is a re-open from the file in this process, not a power cut (see Durability).
        return try ClientStore.open(home: home, clock: clock, entropy: entropy, durability: .processCrash, logger: logger)
    }

    static func engine(
        for device: Device, store: ClientStore, node: InProcessServer, decisions: DecisionSource, observations: Observations,
        options: SimulationOptions, calm: Link
    ) -> SyncEngine {
        let link = device.link
        let network = options.network
        let transport = FaultyTransport(
            inner: node.transport(token: device.token), token: device.token, node: device.node, blobs: node.blobs,
            observations: observations, decisions: decisions
        ) { name in
            if calm.offline.load(ordering: .relaxed) { return nil }
            if link.offline.load(ordering: .relaxed) { return .partition }
            if name == "push-delay" {
                let held = decisions.draw { $0.chance(network.delay) }
                if held { observations.count(.delay) }
                return held ? .delay : nil
            }
            let fault: FaultKind? = decisions.draw { d in
                var roll = d.unit()
                for (kind, p) in [
                    (FaultKind.drop, network.drop), (.loseReply, network.loseReply), (.duplicate, network.duplicate),
                    (.serverCrash, network.serverCrash), (.crashMidSync, network.deviceCrash),
                ] {
                    if roll < p { return kind }
                    roll -= p
                }
                if name == "upload" || name == "download", roll < network.cut { return .cut }
                return nil
            }
            if let fault { observations.count(fault) }
            return fault
        }
        var logger = Logger(label: "butler.sim.sync")
        logger.logLevel = .critical
        return SyncEngine(store: store, transport: transport, logger: logger)
    }

    // MARK: the run

    /// The working day at UTC+8: 08:30–12:00 and 14:00–18:00, Monday to Friday (DOMAIN.md).
    func isWorking(_ date: Date) -> Bool {
        let local = date.timeIntervalSince1970 + 8 * 3600
        let day = Int((local / 86_400).rounded(.down))
        let weekday = ((day % 7) + 7 + 3) % 7
        let minute = Int(local.truncatingRemainder(dividingBy: 86_400) / 60)
        return weekday < 5 && ((510..<720).contains(minute) || (840..<1080).contains(minute))
    }

    mutating func live() async throws {
        let steps = Int((options.hours * 3600 / Simulation.step).rounded(.up))
        for _ in 0..<steps {
            time.advance(by: Simulation.step)
            let now = time.now()
            let working = isWorking(now)
            try await deliverDelayed()
            if let rogue, decisions.draw({ $0.chance(options.rogue) }) {
                let forgery = decisions.draw { $0.pick(Rogue.Forgery.allCases) }
                let (found, refused) = try await rogue.attack(forgery, node: nodes[0], decisions: decisions, observations: observations, now: now)
                rogueViolations += found
                if let refused {
                    rogueRefused[refused.rawValue, default: 0] += 1
                    faults[.rogue, default: 0] += 1
                }
            }
            for index in devices.indices {
                let device = devices[index]
                try await injectFaults(device, now: now)
                if working, decisions.draw({ $0.chance(0.35) }) { await act(device) }
                let online = device.offlineUntil.map { now >= $0 } ?? true
                if online, decisions.draw({ $0.chance(working ? 0.25 : 0.01) }) { try await sync(device) }
            }
        }
    }

    mutating func injectFaults(_ device: Device, now: Date) async throws {
        if let until = device.offlineUntil, now >= until {
            device.offlineUntil = nil
            device.link.offline.store(false, ordering: .relaxed)
        }
        let (partition, crash, clock) = decisions.draw { d in (d.chance(options.partition), d.chance(options.crash), d.chance(options.clock)) }
        if partition, device.offlineUntil == nil {
            let hours = decisions.draw { Double(1 + $0.below(48)) }
            device.offlineUntil = now.addingTimeInterval(hours * 3600)
            device.link.offline.store(true, ordering: .relaxed)
            faults[.partition, default: 0] += 1
        }
        if crash {
            // The handheld dies between two operations and restarts from its SQLite file only.
            try restart(device)
            faults[.crash, default: 0] += 1
        }
        let (backup, restore, clone) = decisions.draw { d in (d.chance(options.backup), d.chance(options.restore), d.chance(options.clone)) }
        if backup { try takeBackup(device) }
        if restore, device.backup != nil {
            try restoreBackup(device)
            faults[.backup, default: 0] += 1
        }
        if clone, clones < 2, devices.count < 64 {
            try cloneDevice(device)
            faults[.clone, default: 0] += 1
        }
        if clock {
            let (jump, amount) = decisions.draw { d in (d.chance(0.3), d.unit()) }
            if jump {
                device.clock.skew = (amount - 0.5) * 4 * 86_400  // ± 2 days
                faults[.clockJump, default: 0] += 1
            } else {
                device.clock.skew = (amount - 0.5) * 2 * 3600  // ± 1 hour
                faults[.clockSkew, default: 0] += 1
            }
        }
    }

    func restart(_ device: Device) throws {
        // Only what reached the file survives: every edit is one committed transaction, and the
        // store is opened again from the file (the old connections close with the old store).
        device.store = try Self.openStore(home: device.home, clock: device.clock, entropy: device.entropy)
        device.engine = Self.engine(
            for: device, store: device.store, node: nodes[device.node], decisions: decisions, observations: observations, options: options, calm: calm)
    }

    /// Copies the device's home folder (its SQLite files and photos) to `to`, as an image or a
    /// backup tool would between two operations. The `-shm` index is left out: SQLite rebuilds it.
    ///
    /// Complete photos (`blobs/<sha256>`) are never written again once installed, so they are
    /// hard-linked rather than copied: the same bytes, without a run's backups copying every
    /// photo of the estate again and again. Everything else (the database, partial downloads) is
    /// copied.
    func copyHome(_ device: Device, to target: URL) throws {
        let files = FileManager.default
        let photos = device.store.blobDirectory.standardizedFileURL.path
        try? files.removeItem(at: target)
        func copy(_ from: URL, _ to: URL) throws {
            try files.createDirectory(at: to, withIntermediateDirectories: true)
            let installed = from.standardizedFileURL.path == photos
            for name in try files.contentsOfDirectory(atPath: from.path) where name != ClientStore.databaseFileName + "-shm" {
                let source = from.appendingPathComponent(name)
                let destination = to.appendingPathComponent(name)
                var isDirectory: ObjCBool = false
                _ = files.fileExists(atPath: source.path, isDirectory: &isDirectory)
                if isDirectory.boolValue {
                    try copy(source, destination)
                } else if installed && Photo.isSHA256(name) {
                    try files.linkItem(at: source, to: destination)
                } else {
                    try files.copyItem(at: source, to: destination)
                }
            }
        }
        try copy(device.home, target)
    }

    mutating func takeBackup(_ device: Device) throws {
        let target = folder.appendingPathComponent("backups").appendingPathComponent("\(device.name)-\(copies)")
        copies += 1
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try copyHome(device, to: target)
        device.backup = target
    }

    /// The handheld is restored from its latest backup: what it did since is gone, including the
    /// bytes of photos taken since. Where such a photo's record had already reached the server,
    /// the photo is lost for everyone (noted, so the check does not blame the sync for it).
    mutating func restoreBackup(_ device: Device) throws {
        guard let backup = device.backup else { return }
        let pending = Set(try device.store.heldPhotos(notUploaded: true))
        let home = folder.appendingPathComponent("\(device.name)-restored-\(copies)")
        copies += 1
        try FileManager.default.copyItem(at: backup, to: home)
        device.home = home
        try restart(device)
        let kept = Set(try device.store.heldPhotos())
        destroyedPhotos.formUnion(pending.subtracting(kept))
    }

    /// A second handheld is set up from a copy of this one's store: same token, same replica ids,
    /// its own person and random source from now on.
    mutating func cloneDevice(_ device: Device) throws {
        let name = "\(device.name)c\(clones)"
        clones += 1
        let home = folder.appendingPathComponent(name)
        try copyHome(device, to: home)
        let clock = DeviceClock(base: time)
        let entropy = SeededEntropy(seed: options.seed &* 131 &+ UInt64(devices.count) &+ 7)
        let store = try Self.openStore(home: home, clock: clock, entropy: entropy)
        let clone = Device(
            name: name, role: device.role, zones: device.zones, home: home, token: device.token, clock: clock, entropy: entropy, store: store,
            engine: SyncEngine(store: store, transport: NullTransport()), node: device.node)
        clone.engine = Self.engine(for: clone, store: store, node: nodes[clone.node], decisions: decisions, observations: observations, options: options, calm: calm)
        devices.append(clone)
        cloneHours += max(0, options.hours * 3600 - time.now().timeIntervalSince(Simulation.start)) / 3600
    }

    mutating func sync(_ device: Device) async throws {
        syncs += 1
        do {
            _ = try await device.engine.sync()
            lastSyncError[device.name] = nil
        } catch is SimulatedDeviceCrash {
            try restart(device)
            lastSyncError[device.name] = "the device died mid-sync"
        } catch {
            lastSyncError[device.name] = "\(error)"
        }
        // A node that died during one of the device's calls restarts: what it held in memory is
        // gone, its store and blob folder stay. Every device's link to it is made again.
        for index in observations.takeCrashes().sorted() { try restartNode(index) }
        // Causal consistency, after every tenth sync whether it finished or broke off: what the
        // device shows now, against the causes of every value the server has acknowledged.
        if syncs % 10 == 0 { checkCauses(device) }
    }

    /// Delivers the pushes the network held: each arrives now, after whatever the device sent
    /// since. Nobody hears the reply; what the server accepted is acknowledged all the same.
    func deliverDelayed() async throws {
        let held = observations.delayed.withLock { held in defer { held = [] }; return held }
        for (node, token, request) in held {
            let response = try await nodes[node].transport(token: token).push(request)
            let accepted = response.results.filter { $0.status == .accepted }.map { request.deltas[$0.index] }
            observations.accept(accepted)
        }
    }

    mutating func restartNode(_ index: Int) throws {
        let restarted = try nodes[index].restarted()
        nodes[index] = restarted
        for device in devices where device.node == index {
            device.engine = Self.engine(
                for: device, store: device.store, node: restarted, decisions: decisions, observations: observations, options: options, calm: calm)
        }
    }

    /// Checks the device's copies of the records that changed on the server since its last
    /// check (where a new anomaly could appear), not all of them: the cost follows the changes.
    mutating func checkCauses(_ device: Device) {
        let fresh = observations.accepted.withLock { Array($0[causesFed...]) }
        for delta in fresh { causes.record(delta) }
        causesFed += fresh.count
        let changed = Set(fresh.map(\.id))
        for other in devices { unchecked[other.name, default: []].formUnion(changed) }
        let ids = unchecked.removeValue(forKey: device.name) ?? []
        guard causalViolations.count < 20 else { return }
        let store = device.store
        let records = ids.sorted { $0.rawValue < $1.rawValue }.compactMap { try? store.record($0) }
        causalViolations += causes.violations(of: device.name, records: records) { try? store.record($0) }
    }

    /// One thing a person does on the handheld (see ``Workload``).
    mutating func act(_ device: Device) async {
        do {
            try Workload.step(device, decisions: decisions, now: time.now())
            edits += 1
        } catch let error as ClientError {
            refusedAtOnce[error.code.rawValue, default: 0] += 1
        } catch let error as ModelError {
            refusedAtOnce[error.code.rawValue, default: 0] += 1
        } catch {
            refusedAtOnce["other", default: 0] += 1
        }
    }

    /// Every partition heals, every clock is set right, and every device syncs until nothing moves.
    mutating func heal() async throws {
        calm.offline.store(true, ordering: .relaxed)
        for device in devices {
            device.offlineUntil = nil
            device.link.offline.store(false, ordering: .relaxed)
            device.clock.skew = 0
        }
        // Past every skew a device had: a clock that ran ahead stamped edits the server holds back
        // until its own time catches up.
        time.advance(by: 3 * 86_400)
        try await deliverDelayed()
        for _ in 0..<3 {
            for device in devices { try await sync(device) }
        }
    }

    /// Plants a bug (``SimulationOptions/Sabotage``) the checks must find.
    func plant(_ sabotage: SimulationOptions.Sabotage?) throws {
        switch sabotage {
        case .forgetAcknowledgedDelta?:
            observations.accepted.withLock { log in
                if let index = log.firstIndex(where: { $0.type == .inspectionForm && $0.fields.count > 1 }) { log.remove(at: index) }
            }
        case .editAfterFinalSync?:
            _ = try devices[0].store.createForm(template: "building-patrol", zone: devices[0].zones[0], place: "after the end")
        case nil:
            break
        }
    }

    // MARK: the checks

    func check() async throws -> SimulationResult {
        let storage = nodes[0].storage
        let allZones = Array(Set(devices.flatMap(\.zones))).sorted { $0.rawValue < $1.rawValue }
        let server = try await storage.records(zones: allZones)
        let replicas = try devices.map { try ReplicaSnapshot(name: $0.name, zones: $0.zones, store: $0.store, lastSyncError: lastSyncError[$0.name]) }
        let violations = rogueViolations + causalViolations + Checker.violations(
            accepted: observations.accepted.withLock { $0 }, server: server, replicas: replicas, destroyed: destroyedPhotos)

        // The digest: the server's final state, and what the run did.
        var lines = server.map { "\($0.id.rawValue) \($0.contentHash)" }.sorted()
        lines.append("edits \(edits) syncs \(syncs)")
        var faults = self.faults
        for (kind, n) in observations.faults.withLock({ $0 }) { faults[kind, default: 0] += n }
        lines.append(faults.keys.sorted().map { "\($0.rawValue)=\(faults[$0]!)" }.joined(separator: " "))
        let digest = SHA256Hasher.hex(of: Array(lines.joined(separator: "\n").utf8))
        return SimulationResult(
            options: options, deviceHours: Double(options.devices) * options.hours + cloneHours, faults: faults, violations: violations, digest: digest,
            edits: edits, syncs: syncs, refusedAtOnce: refusedAtOnce, rogueRefused: rogueRefused, records: server.count)
    }
}

/// A transport that reaches nothing: the stand-in while a crashed device restarts.
struct NullTransport: SyncTransport {
    func fail() -> ClientError { ClientError(.unreachable, "simulated: restarting") }
    func device() async throws -> DeviceInfo { throw fail() }
    func issueReplica() async throws -> ReplicaID { throw fail() }
    func reportDiscarded(_ edits: DiscardedEdits) async throws -> Int { throw fail() }
    func push(_ request: PushRequest) async throws -> PushResponse { throw fail() }
    func pull(cursor: String?, limit: Int) async throws -> PullResponse { throw fail() }
    func record(id: RecordID) async throws -> RecordState? { throw fail() }
    func blobStatus(sha256: String) async throws -> BlobStatus { throw fail() }
    func uploadBlob(sha256: String, file: URL, offset: Int64, count: Int64, length: Int64, sent: @escaping @Sendable (Int64) -> Void) async throws -> BlobStatus {
        throw fail()
    }
    func downloadBlob(sha256: String, to file: URL, from offset: Int64) async throws -> Int64 { throw fail() }
}
