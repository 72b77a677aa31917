import ButlerModel
import Foundation
import Hummingbird
import Metrics
import NIOCore
import ServiceLifecycle
import Synchronization

/// `/v1/devices/me`, `/v1/push`, `/v1/pull`.
struct SyncRoutes {
    let storage: any SyncStorage
    let configuration: ServerConfiguration
    /// The live pulls each device holds open on this node.
    let live = LiveWaits()
    /// Feed reads shared by live pulls woken by the same commit.
    let wakeReads = SharedReads()

    func register(on group: RouterGroup<DeviceRequestContext>) {
        group.get("devices/me") { _, context in
            let device = context.device
            return Response.json(
                DeviceInfo(name: device.name, role: device.role, zones: device.zones, estateUTCOffsetSeconds: configuration.calendar.utcOffsetSeconds)
                    .jsonValue)
        }
        group.post("devices/me/replicas") { _, context in try await issueReplica(context) }
        group.post("devices/me/discarded") { request, context in try await discarded(request, context) }
        group.post("push") { request, context in try await push(request, context) }
        group.get("pull") { request, context in try await pull(request, context) }
    }

    /// The most replica ids one device may hold.
    static let maxReplicasPerDevice = 16

    /// `POST /v1/devices/me/replicas`: a fresh replica id, bound to the calling device. A device
    /// whose replica id turned out to be shared (a cloned image, a restored backup: its edits were
    /// refused as `dot-reused` or `foreign-dot`) moves to a new one and re-stamps its pending edits.
    func issueReplica(_ context: DeviceRequestContext) async throws -> Response {
        let device = context.device
        // A device moves only when a copy of its store turns up: a handful of times in its life.
        // The cap keeps one device from filling records' contexts with replica ids.
        let held = try await storage.replicaBindings().filter { $0.device == device.name }.count
        guard held < Self.maxReplicasPerDevice else {
            throw APIError(
                .tooManyRequests, .quotaExceeded,
                "device \(device.name) already holds \(held) replica ids; register the handheld again (`butler-server device add`)")
        }
        for _ in 0..<8 {
            let replica = try ReplicaID("r" + configuration.entropy.hex(bytes: 8))
            if try await storage.bindReplica(replica, to: device.name, at: configuration.clock.now()) {
                context.logger.info("replica issued", metadata: ["device.name": "\(device.name)", "device.replica": "\(replica)"])
                // The device re-stamps every queued edit under the new id (RefusalLog.ended).
                do { _ = try await storage.resolveRefusals(device: device.name, [.replicaMoved]) } catch {
                    context.logger.notice("could not resolve the device's replica refusals", metadata: ["error": "\(error)"])
                }
                return Response.json(["replica": .string(replica.rawValue)], status: .created)
            }
        }
        throw APIError.internalError()
    }

    func push(_ request: Request, _ context: DeviceRequestContext) async throws -> Response {
        let device = context.device
        let body = try await request.body.collect(upTo: configuration.maxPushBytes)
        let decoded: [Result<RecordState, ModelError>]
        do {
            decoded = try PushRequest.decode(try JSONParser.parse(Array(body.readableBytesView)))
        } catch let error as ModelError where error.code == .protocolVersion {
            throw APIError(.upgradeRequired, error.code, error.message)
        } catch let error as ModelError {
            throw APIError.invalid(error)
        }
        let now = configuration.clock.now()
        var results = [PushResponse.Result?](repeating: nil, count: decoded.count)
        var accepted: [(index: Int, delta: RecordState)] = []
        var refused: [RefusalDraft] = []
        for (index, item) in decoded.enumerated() {
            switch item {
            case .failure(let error):
                results[index] = .init(index: index, id: nil, status: .refused, code: error.code, message: error.message)
                refused.append(RefusalDraft(delta: nil, code: error.code, message: error.message))
            case .success(let delta):
                if let refusal = Self.refusal(of: delta, by: device, now: now) {
                    results[index] = .init(index: index, id: delta.id.rawValue, status: .refused, code: refusal.code, message: refusal.message)
                    refused.append(RefusalDraft(delta: delta, code: refusal.code, message: refusal.message))
                } else {
                    accepted.append((index, delta))
                }
            }
        }
        let outcomes = try await storage.merge(accepted.map(\.delta), refused: refused, by: device, at: now)
        var changed = 0
        for ((index, delta), outcome) in zip(accepted, outcomes) {
            switch outcome {
            case .merged(let didChange, let conflicts):
                if didChange { changed += 1 }
                for rule in conflicts {
                    Counter(label: "butler_server_conflicts_total", dimensions: [("rule", rule.rawValue)]).increment()
                }
                results[index] = .init(index: index, id: delta.id.rawValue, status: .accepted)
            case .refused(let error):
                results[index] = .init(index: index, id: delta.id.rawValue, status: .refused, code: error.code, message: error.message)
            }
        }
        let refusedCount = results.filter { $0?.status == .refused }.count
        Counter(label: "butler_server_pushes_total").increment()
        Counter(label: "butler_server_changes_merged_total").increment(by: changed)
        if refusedCount > 0 { Counter(label: "butler_server_deltas_refused_total").increment(by: refusedCount) }
        context.logger.info("push merged", metadata: ["sync.deltas": "\(decoded.count)", "sync.changed": "\(changed)", "sync.refused": "\(refusedCount)"])
        return Response.json(PushResponse(results: results.compactMap { $0 }).jsonValue)
    }

    /// `POST /v1/devices/me/discarded`: the device reports refused edits its butler discarded;
    /// the server ends the pending refusals they account for (``RefusalResolution/discarded(record:dots:)``)
    /// and answers how many (`{"resolved": N}`). Naming an edit the server never refused ends nothing.
    func discarded(_ request: Request, _ context: DeviceRequestContext) async throws -> Response {
        let body = try await request.body.collect(upTo: Self.maxDiscardedBytes)
        let report: DiscardedEdits
        do {
            report = try DiscardedEdits(json: try JSONParser.parse(Array(body.readableBytesView)))
        } catch let error as ModelError {
            throw APIError.invalid(error)
        }
        let resolved = try await storage.resolveRefusals(
            device: context.device.name, report.edits.map { .discarded(record: $0.record, dots: $0.dots) })
        context.logger.info("discarded edits reported", metadata: ["sync.discarded": "\(report.edits.count)", "refusals.resolved": "\(resolved)"])
        return Response.json(["resolved": .int(Int64(resolved))])
    }

    /// The largest discard report: 1000 edits of a few dots each fit many times over.
    static let maxDiscardedBytes = 1 << 20

    /// Why a well-formed delta from `device` is refused before it reaches the store, or `nil` to
    /// merge it: the checks that need no stored state (zone, schema, clock).
    static func refusal(of delta: RecordState, by device: DeviceRecord, now: Date) -> WireError? {
        guard device.zones.contains(delta.zone) else {
            return WireError(code: .zoneForbidden, message: "device \(device.name) may not write to zone \(delta.zone)")
        }
        do {
            let schema = FieldSchema.of(delta.type)
            try schema.validate(delta)
            // Claimed times (callback attempts, visits): never dated after they were recorded.
            try schema.checkDatedValues(delta)
            try RainDay.checkReportTimes(delta)
        } catch let error as ModelError {
            return WireError(code: error.code, message: error.message)
        } catch {
            return WireError(code: .invalidField, message: "\(error)")
        }
        let limit = HybridLogicalClock.millis(now) + HybridLogicalClock.maxForwardDrift
        for register in delta.fields.values {
            for entry in register.values where entry.time.millis > limit {
                return WireError(code: .clockAhead, message: "an edit is stamped more than 7 days in the future; fix the device clock")
            }
        }
        // A claimed time (an attempt, a fix, a visit, a rain day) may not run ahead of the
        // server's clock either: the device's clock is fast. Transient: pushed again later.
        if let path = FieldSchema.of(delta.type).entryDatedAhead(of: delta, now: now) {
            return WireError(code: .clockAhead, message: "\(path) is dated after the server's time; fix the device clock")
        }
        if RainDay.reportsDayNotBegun(delta, now: now) {
            return WireError(code: .clockAhead, message: "rain is reported for a day that has not begun yet; fix the device clock")
        }
        // What the delta claims and what it would add and remove are checked against the stored
        // record inside the merge transaction (DeltaAdmission), role included.
        return nil
    }

    /// A live pull: waits until a change in the device's zones after `cursor` commits, or until
    /// `duration` is over (an empty page, the same cursor), or the server shuts down. Subscribes
    /// before looking at the feed again, so a commit between the caller's read and the wait is
    /// never missed (``ChangeSignal``).
    func waitForChanges(
        after cursor: Int64, limit: Int, upTo duration: Duration, _ context: DeviceRequestContext
    ) async throws -> (states: [[UInt8]], cursor: Int64, more: Bool) {
        let device = context.device
        // A handheld that lost coverage mid-wait may never hang up: its abandoned pulls would hold
        // its places. A new pull beyond the device's places ends its oldest one (an empty page to
        // a connection most likely gone), so reconnecting is never refused and one device never
        // holds more than its places for long, whatever it sends.
        let hangUp = HangUp()
        let place = live.enter(device.name, limit: configuration.maxLiveWaitsPerDevice, hangUp)
        defer { live.leave(device.name, place) }
        context.connection?.closeFuture.whenComplete { _ in hangUp.close() }
        let changes = storage.changes
        defer { Gauge(label: "butler_server_live_pulls").record(changes.subscriptions) }
        Gauge(label: "butler_server_live_pulls").record(changes.subscriptions + 1)
        let deadline = ContinuousClock.now + duration
        while true {
            // Subscribe first, then look: a commit in between has already marked the subscription.
            let subscription = storage.changes.subscribe(zones: device.zones)
            defer { subscription.cancel() }
            guard hangUp.watch(subscription) else { return (states: [], cursor: cursor, more: false) }
            // One commit wakes every device of its zone at once: those at the same cursor share
            // one read. A read already under way when this pull woke may predate the commit; if it
            // finds nothing, the pull goes round again and reads afresh.
            let page = try await wakeReads.read(cursor: cursor, zones: device.zones, limit: limit) {
                try await storage.changeEncodings(after: cursor, zones: device.zones, limit: limit, maxBytes: configuration.maxPullPageBytes)
            }
            let left = deadline - ContinuousClock.now
            if !page.states.isEmpty || left <= .zero || Task.isCancelled || Task.isShuttingDownGracefully { return page }
            // A wake-up that brings nothing this device can see (a shared notification of
            // another schema, a publish of every zone) goes round again with what time is left.
            _ = await withGracefulShutdownHandler { await subscription.wait(upTo: left) } onGracefulShutdown: { subscription.release() }
        }
    }

    func pull(_ request: Request, _ context: DeviceRequestContext) async throws -> Response {
        let device = context.device
        let query = request.uri.queryParameters
        var cursor: Int64 = 0
        if let text = query.get("cursor"), !text.isEmpty {
            guard let value = Int64(text), value >= 0 else {
                throw APIError(.badRequest, .invalidCursor, "the cursor must be one this server handed out")
            }
            cursor = value
        }
        var limit = 1000
        if let text = query.get("limit") {
            guard let value = Int(text), (1...configuration.maxPullLimit).contains(value) else {
                throw APIError(.badRequest, .invalidValue, "limit must be 1…\(configuration.maxPullLimit)")
            }
            limit = value
        }
        var wait = 0
        if let text = query.get("wait") {
            guard let value = Int(text), (0...WireProtocol.maxPullWaitSeconds).contains(value) else {
                throw APIError(.badRequest, .invalidValue, "wait must be 0…\(WireProtocol.maxPullWaitSeconds) seconds")
            }
            wait = min(value, configuration.maxLiveWaitSeconds)
        }
        var page = try await storage.changeEncodings(after: cursor, zones: device.zones, limit: limit, maxBytes: configuration.maxPullPageBytes)
        if page.states.isEmpty, wait > 0 {
            page = try await waitForChanges(after: cursor, limit: limit, upTo: .seconds(wait), context)
            // The device was checked before the wait: a revocation during it must hold too.
            if !page.states.isEmpty { _ = try await DeviceAuthMiddleware.authenticate(request, storage: storage) }
        }
        Counter(label: "butler_server_pulls_total").increment()
        Counter(label: "butler_server_changes_served_total").increment(by: page.states.count)
        if let latest = try? await storage.latestCursor() {
            Recorder(label: "butler_server_pull_lag_changes").record(max(0, latest - page.cursor))
        }
        // The page that ends a catch-up carries the zones' checksums at its cursor (§8.3).
        let checksums = await IntegrityRoutes.checksumsMember(storage, device: device, cursor: page.cursor, more: page.more)
        // The stored states are already canonical JSON: the page is assembled around them as they
        // are, in the canonical member order (changes < checksums < cursor < more), without decoding any.
        var body: [UInt8] = []
        body.reserveCapacity(page.states.reduce(64) { $0 + $1.count + 1 })
        body.append(contentsOf: Array(#"{"changes":["#.utf8))
        for (n, state) in page.states.enumerated() {
            if n > 0 { body.append(UInt8(ascii: ",")) }
            body.append(contentsOf: state)
        }
        body.append(contentsOf: Array("],".utf8) + checksums)
        body.append(contentsOf: Array(#""cursor":"\#(page.cursor)","more":\#(page.more)}"#.utf8))
        return Response(
            status: .ok, headers: [.contentType: "application/json", .contentLength: String(body.count)],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}


/// The live pulls each device holds open on this node, oldest first.
final class LiveWaits: Sendable {
    private let held = Mutex<(next: UInt64, places: [String: [(id: UInt64, hangUp: HangUp)]])>((0, [:]))

    /// Takes a place for `device`; when its `limit` places are taken, ends the oldest pull.
    func enter(_ device: String, limit: Int, _ hangUp: HangUp) -> UInt64 {
        let (id, evicted) = held.withLock { held -> (UInt64, [HangUp]) in
            held.next += 1
            var places = held.places[device, default: []]
            var evicted: [HangUp] = []
            while places.count >= limit, !places.isEmpty { evicted.append(places.removeFirst().hangUp) }
            places.append((held.next, hangUp))
            held.places[device] = places
            return (held.next, evicted)
        }
        for pull in evicted { pull.close() }
        return id
    }

    func leave(_ device: String, _ id: UInt64) {
        held.withLock { held in
            held.places[device]?.removeAll { $0.id == id }
            if held.places[device]?.isEmpty == true { held.places[device] = nil }
        }
    }
}

/// Single-flight feed reads: live pulls asking for the same page while a read of it is under
/// way wait for that read instead of starting their own.
final class SharedReads: Sendable {
    typealias Page = (states: [[UInt8]], cursor: Int64, more: Bool)

    struct Key: Hashable {
        let cursor: Int64
        let zones: [Zone]
        let limit: Int
    }

    private let inFlight = Mutex<[Key: Task<Page, any Error>]>([:])

    func read(cursor: Int64, zones: [Zone], limit: Int, _ body: @escaping @Sendable () async throws -> Page) async throws -> Page {
        let key = Key(cursor: cursor, zones: zones.sorted(), limit: limit)
        let (task, owner) = inFlight.withLock { reads -> (Task<Page, any Error>, Bool) in
            if let running = reads[key] { return (running, false) }
            let task = Task { try await body() }
            reads[key] = task
            return (task, true)
        }
        defer {
            if owner { inFlight.withLock { _ = $0.removeValue(forKey: key) } }
        }
        return try await task.value
    }
}

/// Whether a live pull's connection was closed by the device; ends the wait in progress.
final class HangUp: Sendable {
    private let state = Mutex<(closed: Bool, current: ChangeSignal.Subscription?)>((false, nil))

    /// The connection closed: release the wait in progress, if any.
    func close() {
        let current = state.withLock { s -> ChangeSignal.Subscription? in
            s.closed = true
            return s.current
        }
        current?.release()
    }

    /// Watches `subscription`'s wait; false when the connection has closed already.
    func watch(_ subscription: ChangeSignal.Subscription) -> Bool {
        state.withLock { s in
            s.current = subscription
            return !s.closed
        }
    }
}
