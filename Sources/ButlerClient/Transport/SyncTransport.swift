import ButlerModel
import Foundation

/// How a client talks to a butler-server. ``CurlTransport`` is the real one (HTTP over libcurl);
/// tests may put the server's router behind this protocol to run without sockets.
public protocol SyncTransport: Sendable {
    /// Who the token belongs to.
    func device() async throws -> DeviceInfo
    /// A fresh replica id the server binds to this device (`POST /v1/devices/me/replicas`).
    func issueReplica() async throws -> ReplicaID
    /// Reports refused edits discarded on the device (`POST /v1/devices/me/discarded`); returns
    /// how many of the server's pending refusals that ended.
    func reportDiscarded(_ edits: DiscardedEdits) async throws -> Int
    /// Pushes a batch of deltas; the reply has one result per delta.
    func push(_ request: PushRequest) async throws -> PushResponse
    /// One page of the change feed after `cursor`.
    func pull(cursor: String?, limit: Int) async throws -> PullResponse
    /// A live pull (`wait=`): the next page after `cursor` as soon as a change in the device's
    /// zones commits, or an empty page with the same cursor after `wait` (at most 60 s).
    func pull(cursor: String?, limit: Int, wait: Duration) async throws -> PullResponse
    /// The server's current state of one record, or `nil` when the server does not hold it.
    /// Throws `zone-forbidden` when the record is outside the device's zones.
    func record(id: RecordID) async throws -> RecordState?
    /// How many bytes of a blob the server holds.
    func blobStatus(sha256: String) async throws -> BlobStatus
    /// Sends bytes `offset..<offset+count` of `file` as the blob's next chunk (`length` is the whole size).
    /// `sent` is called with the bytes sent so far in this request.
    func uploadBlob(sha256: String, file: URL, offset: Int64, count: Int64, length: Int64, sent: @escaping @Sendable (Int64) -> Void) async throws -> BlobStatus
    /// Downloads the blob from `offset` on, appending to `file`; returns the bytes written.
    func downloadBlob(sha256: String, to file: URL, from offset: Int64) async throws -> Int64
}

extension SyncTransport {
    /// A transport that cannot hold a request open answers at once: the caller's interval applies.
    public func pull(cursor: String?, limit: Int, wait: Duration) async throws -> PullResponse {
        try await pull(cursor: cursor, limit: limit)
    }
}
