import ButlerModel
import Foundation

/// What `butler doctor` finds: whether this handheld holds what the server holds, what waits to
/// sync and for how long, what needs a person. The same facts `butler-syncd` logs after each sync.
///
/// ```swift
/// let report = try await Doctor.examine(engine)
/// print(report.jsonValue.canonicalString)
/// exit(report.exitCode)  // 0 all well, 1 needs a person, 75 server unreachable
/// ```
public struct DoctorReport: Sendable {
    public struct Upload: Sendable {
        public let sha256: String
        public let size: Int64
        /// Bytes the server acknowledged so far (an upload resumes from here).
        public let uploadedBytes: Int64
        /// Waiting for its record, which the server refused or held back.
        public let heldBack: Bool
    }

    public struct Server: Sendable {
        public let url: String
        public let reachable: Bool
        /// The protocol version both sides speak, or `nil` when the server could not say.
        public let protocolVersion: Int?
        /// Why the server could not be asked, or refused this device.
        public let error: ClientError?
    }

    public let pendingEdits: Int
    public let heldEdits: Int
    public let oldestPendingSeconds: Int64?
    public let refused: [RefusedEdit]
    public let partialUploads: [Upload]
    /// Server clock minus device clock, corrected by half the round trip; `nil` when unmeasured.
    public let clockOffsetMs: Int64?
    public let roundTripMs: Int64?
    public let lastSync: Date?
    public let lastError: SyncFailure?
    public let zones: [String: ZoneIntegrity]
    public let server: Server

    /// A device clock further than this from the server's needs fixing: dated claims (callback
    /// attempts, visits) are checked with 10 minutes' slack (`Protocol/SYNC.md` §5.3).
    public static let clockTolerance: Int64 = 10 * 60 * 1000

    /// What needs a person, one line each; empty when nothing does.
    public var attention: [String] {
        var lines: [String] = []
        let final = refused.filter(\.isFinal)
        if !final.isEmpty {
            lines.append("\(final.count) edit(s) refused by the server (\(Set(final.map(\.code.rawValue)).sorted().joined(separator: ", "))): see `butler refused list`")
        }
        for (zone, status) in zones.sorted(by: { $0.key < $1.key }) where status.checksum == .mismatch {
            lines.append("zone \(zone) differs from the server's: \(status.reason ?? "mismatch")\(status.left.isEmpty ? "" : " (\(status.left.joined(separator: ", ")))")")
        }
        if let error = server.error, server.reachable {
            lines.append("the server refuses this device: \(error.code): \(error.message)")
        }
        if let offset = clockOffsetMs, abs(offset) > Self.clockTolerance {
            lines.append("the device clock is \(abs(offset) / 1000) s \(offset > 0 ? "behind" : "ahead of") the server's: set it right")
        }
        return lines
    }

    /// 1 when something needs a person (even offline), else 75 when the server cannot be reached,
    /// else 0.
    public var exitCode: Int32 {
        if !attention.isEmpty { return 1 }
        return server.reachable ? 0 : 75
    }

    public var jsonValue: JSONValue {
        [
            "pendingEdits": .int(Int64(pendingEdits)), "heldEdits": .int(Int64(heldEdits)),
            "oldestPendingSeconds": oldestPendingSeconds.map(JSONValue.int) ?? .null,
            "refused": .array(refused.map(\.jsonValue)),
            "partialUploads": .array(
                partialUploads.map {
                    ["sha256": .string($0.sha256), "size": .int($0.size), "uploadedBytes": .int($0.uploadedBytes), "heldBack": .bool($0.heldBack)]
                }),
            "clockOffsetMs": clockOffsetMs.map(JSONValue.int) ?? .null, "roundTripMs": roundTripMs.map(JSONValue.int) ?? .null,
            "lastSync": lastSync.map { .string(Timestamp.format($0)) } ?? .null,
            "lastError": lastError?.jsonValue ?? .null,
            "zones": .object(zones.mapValues(\.jsonValue)),
            "server": [
                "url": .string(server.url), "reachable": .bool(server.reachable),
                "protocol": server.protocolVersion.map { .int(Int64($0)) } ?? .null,
                "error": server.error.map { ["code": .string($0.code.rawValue), "message": .string($0.message)] } ?? .null,
            ],
            "attention": .array(attention.map(JSONValue.string)),
        ]
    }

    /// The facts as `key=value` pairs for a log line (`butler-syncd`), flat and metric-friendly.
    public var metrics: [String: String] {
        var pairs: [String: String] = [
            "pending_edits": "\(pendingEdits)", "held_edits": "\(heldEdits)", "oldest_pending_seconds": "\(oldestPendingSeconds ?? 0)",
            "refused_edits": "\(refused.filter(\.isFinal).count)", "partial_uploads": "\(partialUploads.count)",
            "server_reachable": "\(server.reachable)", "attention": "\(attention.count)",
        ]
        if let clockOffsetMs { pairs["clock_offset_ms"] = "\(clockOffsetMs)" }
        if let lastError { pairs["last_error"] = lastError.code }
        for (zone, status) in zones { pairs["zone.\(zone).checksum"] = status.checksum.rawValue }
        return pairs
    }
}

/// Examines a handheld's store and its server (``DoctorReport``).
public enum Doctor {
    /// Reads the store, then asks the server who this device is (reachability, protocol) and what
    /// time it is (clock offset). Never throws for the server: an unreachable one is a finding.
    public static func examine(_ engine: SyncEngine) async throws -> DoctorReport {
        let store = engine.store
        let status = try store.status()
        let identity = try store.identity()
        let now = store.clock.now()
        var zones = try store.integrity()
        for zone in identity.device?.zones ?? [] where zones[zone.rawValue] == nil {
            zones[zone.rawValue] = ZoneIntegrity(checksum: .unknown, reason: "not checked yet: the next sync compares it")
        }
        let uploads = try store.photoUploads().map {
            DoctorReport.Upload(sha256: $0.sha256, size: $0.size, uploadedBytes: $0.uploaded, heldBack: $0.heldBack)
        }
        var reachable = false
        var version: Int?
        var serverError: ClientError?
        var offset: Int64?
        var roundTrip: Int64?
        do {
            let device = try await engine.transport.device()
            try store.setDeviceInfo(device)
            reachable = true
            version = WireProtocol.version
            if let integrity = engine.transport as? any IntegrityTransport {
                let sent = Date()
                let time = try await integrity.serverTime()
                let received = Date()
                let middle = (sent.timeIntervalSince1970 + received.timeIntervalSince1970) / 2
                offset = time.millis - Int64((middle * 1000).rounded())
                roundTrip = Int64((received.timeIntervalSince(sent) * 1000).rounded())
                if !time.protocols.contains(WireProtocol.version) { version = nil }
            }
        } catch let error as CancellationError {
            throw error
        } catch {
            let failure = ClientError.mapped(error, "cannot ask the server")
            serverError = failure
            // The server answered, and refused: reachable, but this device cannot sync.
            reachable = !failure.isTransient
        }
        return DoctorReport(
            pendingEdits: status.pendingEdits, heldEdits: status.heldEdits,
            oldestPendingSeconds: try store.oldestPendingEdit().map { max(0, Int64(now.timeIntervalSince($0).rounded(.down))) },
            refused: try store.refusedEdits(), partialUploads: uploads, clockOffsetMs: offset, roundTripMs: roundTrip,
            lastSync: status.lastSync, lastError: try store.lastSyncError(), zones: zones,
            server: DoctorReport.Server(url: identity.serverURL, reachable: reachable, protocolVersion: version, error: serverError))
    }
}
