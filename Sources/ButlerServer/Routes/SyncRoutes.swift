import ButlerModel
import Foundation
import Hummingbird
import Metrics
import NIOCore

/// `/v1/devices/me`, `/v1/push`, `/v1/pull`.
struct SyncRoutes {
    let storage: any SyncStorage
    let configuration: ServerConfiguration

    func register(on group: RouterGroup<DeviceRequestContext>) {
        group.get("devices/me") { _, context in
            let device = context.device
            return Response.json(
                DeviceInfo(name: device.name, role: device.role, zones: device.zones, estateUTCOffsetSeconds: configuration.calendar.utcOffsetSeconds)
                    .jsonValue)
        }
        group.post("devices/me/replicas") { _, context in try await issueReplica(context) }
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
        for (index, item) in decoded.enumerated() {
            switch item {
            case .failure(let error):
                results[index] = .init(index: index, id: nil, status: .refused, code: error.code, message: error.message)
            case .success(let delta):
                if let refusal = Self.refusal(of: delta, by: device, now: now) {
                    results[index] = .init(index: index, id: delta.id.rawValue, status: .refused, code: refusal.code, message: refusal.message)
                } else {
                    accepted.append((index, delta))
                }
            }
        }
        let outcomes = try await storage.merge(accepted.map(\.delta), by: device, at: now)
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
        let page = try await storage.changeEncodings(after: cursor, zones: device.zones, limit: limit, maxBytes: configuration.maxPullPageBytes)
        Counter(label: "butler_server_pulls_total").increment()
        Counter(label: "butler_server_changes_served_total").increment(by: page.states.count)
        if let latest = try? await storage.latestCursor() {
            Recorder(label: "butler_server_pull_lag_changes").record(max(0, latest - page.cursor))
        }
        // The page that ends a catch-up carries the zones' checksums at its cursor (§8.2).
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
