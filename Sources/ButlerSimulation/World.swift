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
    let nodes: [InProcessServer]
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
        let transport = FaultyTransport(inner: node.transport(token: device.token), observations: observations) { _ in
            if calm.offline.load(ordering: .relaxed) { return nil }
            if link.offline.load(ordering: .relaxed) { return .partition }
            let fault: FaultKind? = decisions.draw { d in
                let roll = d.unit()
                if roll < network.drop { return .drop }
                if roll < network.drop + network.loseReply { return .loseReply }
                if roll < network.drop + network.loseReply + network.duplicate { return .duplicate }
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
            for index in devices.indices {
                let device = devices[index]
                try await injectFaults(device, now: now)
                if working, decisions.draw({ $0.chance(0.35) }) { await act(device) }
                let online = device.offlineUntil.map { now >= $0 } ?? true
                if online, decisions.draw({ $0.chance(working ? 0.25 : 0.01) }) { await sync(device) }
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

    mutating func sync(_ device: Device) async {
        syncs += 1
        do {
            _ = try await device.engine.sync()
            lastSyncError[device.name] = nil
        } catch {
            lastSyncError[device.name] = "\(error)"
        }
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
        for _ in 0..<3 {
            for device in devices { await sync(device) }
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
        var violations: [String] = []
        let storage = nodes[0].storage
        let allZones = Array(Set(devices.flatMap(\.zones))).sorted { $0.rawValue < $1.rawValue }
        let server = try await storage.records(zones: allZones)
        let byID = Dictionary(server.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })

        // 1. The reference, fed every delta the server accepted, holds exactly what the server holds.
        var reference = ReferenceStore()
        for delta in observations.accepted.withLock({ $0 }) { reference.accept(delta) }
        for (id, record) in reference.records {
            guard let stored = byID[id] else {
                violations.append("acknowledged record \(id) is missing on the server")
                continue
            }
            let held = stored.fields.filter { !$0.value.isEmpty }
            if held != record.entries {
                let lost = record.entries.keys.filter { held[$0] != record.entries[$0] }.map(\.rawValue).sorted()
                violations.append("record \(id): the server's entries differ from the reference join of what it acknowledged (\(lost.prefix(5).joined(separator: ", ")))")
            }
        }
        for id in byID.keys where reference.records[id] == nil {
            violations.append("record \(id) is on the server but no accepted delta wrote it")
        }

        // 2. Resolution: the model's views agree with the reference's own rules.
        for (id, record) in reference.records {
            guard let stored = byID[id], stored.type == .inspectionForm, let form = try? InspectionForm(stored) else { continue }
            for (path, entries) in record.entries {
                let s = path.segments
                if s.count == 3, s[0] == "items", s[2] == "result" {
                    let expected = ReferenceStore.itemResult(Array(entries.values))
                    let shown = form.items[String(s[1])]?.result?.rawValue
                    if expected != shown { violations.append("form \(id) \(path): shows \(shown ?? "nothing"), defect-wins says \(expected ?? "nothing")") }
                }
                if path.rawValue == "status", let expected = ReferenceStore.formStatus(Array(entries.values)) {
                    if Int64(form.status.round) != expected.round || form.status.state.rawValue != expected.state {
                        violations.append("form \(id): status \(form.status.state.rawValue) round \(form.status.round), status-monotone says \(expected.state) round \(expected.round)")
                    }
                }
            }
        }

        // 3. Every device holds exactly what the server holds in its zones, and nothing is left behind.
        for device in devices {
            let mine = server.filter { device.zones.contains($0.zone) }
            let local = try device.store.allRecords()
            let localHashes = Dictionary(local.map { ($0.id, $0.contentHash) }, uniquingKeysWith: { a, _ in a })
            for record in mine where localHashes[record.id] != record.contentHash {
                violations.append("\(device.name): record \(record.id) differs from the server's after the final sync")
            }
            if local.count != mine.count { violations.append("\(device.name): holds \(local.count) records, the server \(mine.count) in its zones") }
            let status = try device.store.status()
            if status.pendingEdits > 0 { violations.append("\(device.name): \(status.pendingEdits) edit(s) still pending after the final sync") }
            // Evidence is never lost: every photo uploaded, every photo its records show on the device.
            if status.pendingPhotoBytes > 0 { violations.append("\(device.name): \(status.pendingPhotoBytes) photo bytes never uploaded") }
            if status.missingPhotos > 0 { violations.append("\(device.name): \(status.missingPhotos) photo(s) its records show are not on the device") }
            if let error = lastSyncError[device.name] { violations.append("\(device.name): its last sync failed: \(error)") }
            for refused in try device.store.refusedEdits() {
                violations.append("\(device.name): the server refused an honest edit of \(refused.record): \(refused.code.rawValue)")
            }
        }

        // The digest: the server's final state, and what the run did.
        var lines = server.map { "\($0.id.rawValue) \($0.contentHash)" }.sorted()
        lines.append("edits \(edits) syncs \(syncs)")
        var faults = self.faults
        for (kind, n) in observations.faults.withLock({ $0 }) { faults[kind, default: 0] += n }
        lines.append(faults.keys.sorted().map { "\($0.rawValue)=\(faults[$0]!)" }.joined(separator: " "))
        let digest = SHA256Hasher.hex(of: Array(lines.joined(separator: "\n").utf8))
        return SimulationResult(
            options: options, deviceHours: Double(devices.count) * options.hours, faults: faults, violations: violations, digest: digest,
            edits: edits, syncs: syncs, refusedAtOnce: refusedAtOnce, records: server.count)
    }
}

/// A transport that reaches nothing: the stand-in while a crashed device restarts.
struct NullTransport: SyncTransport {
    func fail() -> ClientError { ClientError(.unreachable, "simulated: restarting") }
    func device() async throws -> DeviceInfo { throw fail() }
    func issueReplica() async throws -> ReplicaID { throw fail() }
    func push(_ request: PushRequest) async throws -> PushResponse { throw fail() }
    func pull(cursor: String?, limit: Int) async throws -> PullResponse { throw fail() }
    func record(id: RecordID) async throws -> RecordState? { throw fail() }
    func blobStatus(sha256: String) async throws -> BlobStatus { throw fail() }
    func uploadBlob(sha256: String, file: URL, offset: Int64, count: Int64, length: Int64, sent: @escaping @Sendable (Int64) -> Void) async throws -> BlobStatus {
        throw fail()
    }
    func downloadBlob(sha256: String, to file: URL, from offset: Int64) async throws -> Int64 { throw fail() }
}
