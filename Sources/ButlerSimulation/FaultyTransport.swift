import ButlerClient
import ButlerModel
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

    public static func < (a: FaultKind, b: FaultKind) -> Bool { a.rawValue < b.rawValue }
}

/// Counters and the log of what the server accepted, shared by every device's transport.
final class Observations: Sendable {
    let faults = Mutex<[FaultKind: Int]>([:])
    /// Every delta the server accepted, in the order it accepted them (re-sent ones included).
    let accepted = Mutex<[RecordState]>([])

    func count(_ kind: FaultKind) { faults.withLock { $0[kind, default: 0] += 1 } }
}

/// A device's link to a server node: the real in-process transport, behind the simulation's
/// faults. Each call asks the simulation whether it is cut off (partition) and which fault, if
/// any, strikes it, so one seed replays the same faults.
final class FaultyTransport: SyncTransport {
    let inner: any SyncTransport
    let observations: Observations
    /// Decides the faults of each call: (the call's name) → the fault to inject, or nil.
    let decide: @Sendable (String) -> FaultKind?

    init(inner: any SyncTransport, observations: Observations, decide: @escaping @Sendable (String) -> FaultKind?) {
        self.inner = inner
        self.observations = observations
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
        default:
            return try await body()
        }
    }

    func device() async throws -> DeviceInfo { try await call("device") { try await inner.device() } }

    func issueReplica() async throws -> ReplicaID { try await call("replica") { try await inner.issueReplica() } }

    func push(_ request: PushRequest) async throws -> PushResponse {
        try await call("push") {
            let response = try await inner.push(request)
            let accepted = response.results.filter { $0.status == .accepted }.map { request.deltas[$0.index] }
            observations.accepted.withLock { $0 += accepted }
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
        try await call("upload") { try await inner.uploadBlob(sha256: sha256, file: file, offset: offset, count: count, length: length, sent: sent) }
    }

    func downloadBlob(sha256: String, to file: URL, from offset: Int64) async throws -> Int64 {
        try await call("download") { try await inner.downloadBlob(sha256: sha256, to: file, from: offset) }
    }
}
