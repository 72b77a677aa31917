import ButlerClient
import ButlerModel
import ButlerServer
import Foundation
import Synchronization

/// The faults a message between a device and a server can meet, with their probabilities per call.
public struct NetworkFaults: Sendable {
    /// The request never arrives: the device sees `unreachable`.
    public var drop = 0.02
    /// The server handles the request but the reply is lost: the device sees a timeout.
    public var loseReply = 0.02
    /// The request arrives twice (a retry by a proxy): the server handles it twice.
    public var duplicate = 0.02
    /// A photo's upload or download breaks off mid-body: what arrived stays where it arrived.
    public var cut = 0.05
    /// The server node dies during the call and restarts: before its commit, after it (the reply
    /// lost), or during an upload after writing part of the chunk or all of it but before
    /// installing the photo.
    public var serverCrash = 0.003
    /// A push is held in the network and delivered later, after the device's newer requests (the
    /// device, seeing no reply, has moved on and sent it again meanwhile).
    public var delay = 0.02
    /// The handheld dies in the middle of a sync, between two requests, and restarts from its
    /// SQLite file.
    public var deviceCrash = 0.002

    public init() {}
}

/// What the simulation counts, by fault kind.
public enum FaultKind: String, CaseIterable, Sendable, Comparable {
    case drop = "message-dropped"
    case loseReply = "reply-lost"
    case duplicate = "message-duplicated"
    case partition = "partition"
    case crash = "device-crash"
    case clockSkew = "clock-skew"
    case clockJump = "clock-jump"
    case cut = "body-cut"
    case serverCrash = "server-crash"
    case backup = "backup-restored"
    case clone = "device-cloned"
    case rogue = "rogue-delta"
    case delay = "message-delayed"
    case crashMidSync = "device-crash-mid-sync"

    public static func < (a: FaultKind, b: FaultKind) -> Bool { a.rawValue < b.rawValue }
}

/// Counters and the log of what the server accepted, shared by every device's transport.
final class Observations: Sendable {
    let faults = Mutex<[FaultKind: Int]>([:])
    /// Every delta the server accepted, in the order it accepted them (re-sent ones included).
    let accepted = Mutex<[RecordState]>([])
    /// The forms of each zone the server accepted a delta of, in the order first seen (the
    /// rogue's targets).
    let formsByZone = Mutex<[Zone: [RecordID]]>([:])
    private let knownForms = Mutex<Set<RecordID>>([])

    /// Logs deltas the server accepted.
    func accept(_ deltas: [RecordState]) {
        accepted.withLock { $0 += deltas }
        for delta in deltas where delta.type == .inspectionForm && knownForms.withLock({ $0.insert(delta.id).inserted }) {
            formsByZone.withLock { $0[delta.zone, default: []].append(delta.id) }
        }
    }

    /// Server nodes that died during a call since the loop last restarted them.
    let crashedNodes = Mutex<Set<Int>>([])
    /// Pushes held in the network: the node, the device's token and the request, delivered by
    /// the loop some steps later.
    let delayed = Mutex<[(node: Int, token: String, request: PushRequest)]>([])

    func count(_ kind: FaultKind) { faults.withLock { $0[kind, default: 0] += 1 } }
    func takeCrashes() -> Set<Int> { crashedNodes.withLock { found in defer { found = [] }; return found } }
}

/// The handheld died during a sync (``NetworkFaults/deviceCrash``): the loop restarts it.
struct SimulatedDeviceCrash: Error {}

/// A device's link to a server node: the real in-process transport, behind the simulation's
/// faults. Each call asks the simulation whether it is cut off (partition) and which fault, if
/// any, strikes it, so one seed replays the same faults.
final class FaultyTransport: SyncTransport {
    let inner: any SyncTransport
    let token: String
    /// The node this link reaches (its index), and that node's blob store.
    let node: Int
    let blobs: BlobStore
    let observations: Observations
    let decisions: DecisionSource
    /// Decides the faults of each call: (the call's name) → the fault to inject, or nil.
    let decide: @Sendable (String) -> FaultKind?

    init(
        inner: any SyncTransport, token: String, node: Int, blobs: BlobStore, observations: Observations, decisions: DecisionSource,
        decide: @escaping @Sendable (String) -> FaultKind?
    ) {
        self.inner = inner
        self.token = token
        self.node = node
        self.blobs = blobs
        self.observations = observations
        self.decisions = decisions
        self.decide = decide
    }

    private func call<T>(_ name: String, _ body: () async throws -> T) async throws -> T {
        switch decide(name) {
        case .drop?, .partition?:
            throw ClientError(.unreachable, "simulated: the request to \(name) did not arrive")
        case .loseReply?:
            _ = try await body()
            throw ClientError(.timeout, "simulated: the reply to \(name) was lost")
        case .duplicate?:
            _ = try? await body()
            return try await body()
        case .crashMidSync?:
            throw SimulatedDeviceCrash()
        case .serverCrash?:
            observations.crashedNodes.withLock { _ = $0.insert(node) }
            if decisions.draw({ $0.chance(0.5) }) { throw ClientError(.unreachable, "simulated: the server died before handling \(name)") }
            _ = try await body()
            throw ClientError(.timeout, "simulated: the server died after handling \(name), before replying")
        default:
            return try await body()
        }
    }

    func device() async throws -> DeviceInfo { try await call("device") { try await inner.device() } }

    func issueReplica() async throws -> ReplicaID { try await call("replica") { try await inner.issueReplica() } }

    func reportDiscarded(_ edits: DiscardedEdits) async throws -> Int { try await call("discarded") { try await inner.reportDiscarded(edits) } }

    func push(_ request: PushRequest) async throws -> PushResponse {
        if decide("push-delay") == .delay {
            observations.delayed.withLock { $0.append((node, token, request)) }
            throw ClientError(.timeout, "simulated: the push is held in the network")
        }
        return try await call("push") {
            let response = try await inner.push(request)
            let accepted = response.results.filter { $0.status == .accepted }.map { request.deltas[$0.index] }
            observations.accept(accepted)
            return response
        }
    }

    func pull(cursor: String?, limit: Int) async throws -> PullResponse {
        try await call("pull") { try await inner.pull(cursor: cursor, limit: limit) }
    }

    func record(id: RecordID) async throws -> RecordState? { try await call("record") { try await inner.record(id: id) } }

    func blobStatus(sha256: String) async throws -> BlobStatus { try await call("blob") { try await inner.blobStatus(sha256: sha256) } }

    func uploadBlob(
        sha256: String, file: URL, offset: Int64, count: Int64, length: Int64, sent: @escaping @Sendable (Int64) -> Void
    ) async throws -> BlobStatus {
        let fault = decide("upload")
        switch fault {
        case .cut?, .serverCrash?:
            let crash = fault == .serverCrash
            if crash { observations.crashedNodes.withLock { _ = $0.insert(node) } }
            if crash, offset + count == length, decisions.draw({ $0.chance(0.5) }) {
                // Died after writing the last byte, before verifying and installing the photo.
                try leaveWholePartial(sha256: sha256, file: file, offset: offset, count: count, length: length)
            } else if count > 1 {
                // Only the first part of the body arrived; the server keeps it.
                _ = try? await inner.uploadBlob(sha256: sha256, file: file, offset: offset, count: count / 2, length: length, sent: sent)
            }
            throw ClientError(.unreachable, crash ? "simulated: the server died during the upload" : "simulated: the upload broke off mid-body")
        default:
            return try await call("upload") {
                try await inner.uploadBlob(sha256: sha256, file: file, offset: offset, count: count, length: length, sent: sent)
            }
        }
    }

    /// What a server that died between its last write and the install leaves on its disk: the
    /// whole chunk appended to the partial upload (only where the upload stood at `offset`).
    private func leaveWholePartial(sha256: String, file: URL, offset: Int64, count: Int64, length: Int64) throws {
        let partial = blobs.partialURL(sha256)
        let held = (try? FileManager.default.attributesOfItem(atPath: partial.path)[.size] as? Int64) ?? 0
        guard held == offset else { return }
        let source = try FileHandle(forReadingFrom: file)
        defer { try? source.close() }
        try source.seek(toOffset: UInt64(offset))
        let bytes = try source.read(upToCount: Int(count)) ?? Data()
        if !FileManager.default.fileExists(atPath: partial.path) { _ = FileManager.default.createFile(atPath: partial.path, contents: nil) }
        let target = try FileHandle(forWritingTo: partial)
        defer { try? target.close() }
        try target.seek(toOffset: UInt64(offset))
        try target.write(contentsOf: bytes)
        try String(length).write(to: blobs.lengthURL(sha256), atomically: true, encoding: .utf8)
    }

    func downloadBlob(sha256: String, to file: URL, from offset: Int64) async throws -> Int64 {
        guard decide("download") == .cut else {
            return try await call("download") { try await inner.downloadBlob(sha256: sha256, to: file, from: offset) }
        }
        // The reply's body breaks off: the device keeps the part that arrived.
        let whole = file.appendingPathExtension("sim-whole")
        try? FileManager.default.removeItem(at: whole)
        defer { try? FileManager.default.removeItem(at: whole) }
        let received = try await inner.downloadBlob(sha256: sha256, to: whole, from: offset)
        let kept = received / 2
        if kept > 0 {
            let bytes = try Data(contentsOf: whole).prefix(Int(kept))
            if !FileManager.default.fileExists(atPath: file.path) { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
            let handle = try FileHandle(forWritingTo: file)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: bytes)
        }
        throw ClientError(.unreachable, "simulated: the download broke off after \(kept) of \(received) bytes")
    }
}
