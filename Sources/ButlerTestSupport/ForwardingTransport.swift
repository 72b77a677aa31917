import ButlerClient
import ButlerModel
import Foundation

/// A transport that hands every call to `base`: a test's wrapper adopts it and writes only the
/// calls it counts, scripts or fails.
///
/// The live pull (`pull(cursor:limit:wait:)`) is not forwarded: it falls back to
/// ``SyncTransport``'s own, which calls this wrapper's `pull(cursor:limit:)`, so a wrapper that
/// scripts pulls sees every one of them.
public protocol ForwardingTransport: SyncTransport {
    var base: any SyncTransport { get }
}

extension ForwardingTransport {
    public func device() async throws -> DeviceInfo { try await base.device() }
    public func issueReplica() async throws -> ReplicaID { try await base.issueReplica() }
    public func reportDiscarded(_ edits: DiscardedEdits) async throws -> Int { try await base.reportDiscarded(edits) }
    public func push(_ request: PushRequest) async throws -> PushResponse { try await base.push(request) }
    public func pull(cursor: String?, limit: Int) async throws -> PullResponse { try await base.pull(cursor: cursor, limit: limit) }
    public func record(id: RecordID) async throws -> RecordState? { try await base.record(id: id) }
    public func blobStatus(sha256: String) async throws -> BlobStatus { try await base.blobStatus(sha256: sha256) }
    public func uploadBlob(
        sha256: String, file: URL, offset: Int64, count: Int64, length: Int64, sent: @escaping @Sendable (Int64) -> Void
    ) async throws -> BlobStatus {
        try await base.uploadBlob(sha256: sha256, file: file, offset: offset, count: count, length: length, sent: sent)
    }
    public func downloadBlob(sha256: String, to file: URL, from offset: Int64) async throws -> Int64 {
        try await base.downloadBlob(sha256: sha256, to: file, from: offset)
    }
}
