import ButlerModel
import Crypto
import Foundation
import Logging
import Metrics

/// Where a sync is and how far it got: what the tools render as a progress bar or log lines.
public struct SyncProgress: Sendable {
    public enum Phase: String, Sendable {
        case push, upload, pull, download
    }

    public let phase: Phase
    /// Records pushed or pulled so far in this phase.
    public let records: Int
    /// Photo bytes moved so far in this phase, and the total when known.
    public let bytes: Int64
    public let totalBytes: Int64?
}

/// What one sync did.
public struct SyncReport: Hashable, Sendable {
    public var pushed = 0
    public var refused = 0
    public var pulled = 0
    public var photosUploaded = 0
    public var bytesUploaded: Int64 = 0
    public var photosDownloaded = 0
    public var bytesDownloaded: Int64 = 0

    public var jsonValue: JSONValue {
        [
            "pushed": .int(Int64(pushed)), "refused": .int(Int64(refused)), "pulled": .int(Int64(pulled)),
            "photosUploaded": .int(Int64(photosUploaded)), "bytesUploaded": .int(bytesUploaded),
            "photosDownloaded": .int(Int64(photosDownloaded)), "bytesDownloaded": .int(bytesDownloaded),
        ]
    }
}

/// Pushes the outbox, uploads photos, pulls the change feed and fetches photos — each step
/// resumable, each acknowledgement durable before the next request.
///
/// ```swift
/// let engine = SyncEngine(store: store, transport: CurlTransport(configuration: .init(baseURL: url, token: token)))
/// let report = try await engine.sync { progress in print(progress.phase, progress.records) }
/// ```
public struct SyncEngine: Sendable {
    public struct Configuration: Sendable {
        /// Deltas per push (the server merges each push in one transaction).
        public var pushBatchSize = 500
        /// Encoded bytes per push at most.
        public var pushBatchBytes = 4 << 20
        /// Changes per pull page.
        public var pullPageSize = 1000
        /// Bytes per upload request; a cut loses at most the chunk in flight, and the server keeps
        /// what it received of that too.
        public var uploadChunkSize: Int64 = 8 << 20
        /// Fetch photos referenced by pulled records during sync (`false`: on demand only).
        public var downloadPhotos = true

        public init() {}
    }

    public let store: ClientStore
    public let transport: any SyncTransport
    public let configuration: Configuration
    let logger: Logger

    public init(store: ClientStore, transport: any SyncTransport, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "butler.client.sync")) {
        self.store = store
        self.transport = transport
        self.configuration = configuration
        self.logger = logger
    }

    /// A full sync: push, upload photos, pull, download photos. Throws on the first failure;
    /// everything acknowledged before it stays done.
    public func sync(progress: @escaping @Sendable (SyncProgress) -> Void = { _ in }) async throws -> SyncReport {
        var report = SyncReport()
        if try store.identity().device == nil {
            try store.setDeviceInfo(try await transport.device())
        }
        try await push(into: &report, progress: progress)
        try await uploadPhotos(into: &report, progress: progress)
        try await pull(into: &report, progress: progress)
        if configuration.downloadPhotos { try await downloadPhotos(into: &report, progress: progress) }
        try store.setLastSync(store.clock.now())
        Counter(label: "butler_client_sync_total").increment()
        logger.info("sync done", metadata: ["sync.pushed": "\(report.pushed)", "sync.pulled": "\(report.pulled)", "sync.refused": "\(report.refused)"])
        return report
    }

    /// Pushes the outbox in bounded batches until it is empty.
    public func push(into report: inout SyncReport, progress: @escaping @Sendable (SyncProgress) -> Void = { _ in }) async throws {
        while true {
            try Task.checkCancellation()
            let groups = try store.pendingGroups(maxDeltas: configuration.pushBatchSize, maxBytes: configuration.pushBatchBytes)
            guard !groups.isEmpty else { return }
            let response = try await transport.push(PushRequest(deltas: groups.map(\.delta)))
            let (accepted, refused) = try store.acknowledge(groups, response)
            report.pushed += accepted
            report.refused += refused
            Counter(label: "butler_client_deltas_pushed_total").increment(by: accepted)
            if refused > 0 {
                logger.warning("server refused edits", metadata: ["sync.refused": "\(refused)"])
            }
            progress(SyncProgress(phase: .push, records: report.pushed + report.refused, bytes: 0, totalBytes: nil))
        }
    }

    /// Uploads every local photo the server does not hold yet, resuming from the server's byte count.
    public func uploadPhotos(into report: inout SyncReport, progress: @escaping @Sendable (SyncProgress) -> Void = { _ in }) async throws {
        for (sha, size) in try store.pendingUploads() {
            try Task.checkCancellation()
            let sent = try await upload(sha256: sha, size: size, progress: progress)
            report.photosUploaded += 1
            report.bytesUploaded += sent
        }
    }

    /// Uploads one blob; returns the bytes sent (only what the server was missing).
    @discardableResult
    public func upload(sha256 sha: String, size: Int64, progress: @escaping @Sendable (SyncProgress) -> Void = { _ in }) async throws -> Int64 {
        let file = store.blobURL(sha)
        var status = try await transport.blobStatus(sha256: sha)
        var sent: Int64 = 0
        var races = 0
        while !status.complete {
            try Task.checkCancellation()
            let offset = status.received
            guard offset < size else {
                throw ClientError(.badResponse, "the server holds \(offset) bytes of a \(size)-byte photo \(sha) but calls it incomplete")
            }
            let count = min(configuration.uploadChunkSize, size - offset)
            let base = sent
            do {
                status = try await transport.uploadBlob(sha256: sha, file: file, offset: offset, count: count, length: size) { n in
                    progress(SyncProgress(phase: .upload, records: 0, bytes: base + n, totalBytes: size))
                }
            } catch let error as ClientError where ["offset-mismatch", "upload-in-progress"].contains(error.code.rawValue) && races < 20 {
                // The server was still writing a cut-off earlier attempt: ask again where it stands.
                races += 1
                try await Task.sleep(for: .milliseconds(100 * races))
                status = try await transport.blobStatus(sha256: sha)
                continue
            }
            sent += status.received - offset
            try store.setUploaded(sha, bytes: status.received, complete: status.complete)
        }
        try store.setUploaded(sha, bytes: size, complete: true)
        Counter(label: "butler_client_blob_bytes_uploaded_total").increment(by: Int(sent))
        return sent
    }

    /// Pulls the change feed from the stored cursor until the server says there is no more.
    public func pull(into report: inout SyncReport, progress: @escaping @Sendable (SyncProgress) -> Void = { _ in }) async throws {
        while true {
            try Task.checkCancellation()
            let page = try await transport.pull(cursor: try store.cursor(), limit: configuration.pullPageSize)
            try store.applyPull(page)
            report.pulled += page.changes.count
            Counter(label: "butler_client_changes_pulled_total").increment(by: page.changes.count)
            progress(SyncProgress(phase: .pull, records: report.pulled, bytes: 0, totalBytes: nil))
            if !page.more { return }
        }
    }

    /// Downloads every referenced photo this device lacks, resuming partial downloads.
    public func downloadPhotos(into report: inout SyncReport, progress: @escaping @Sendable (SyncProgress) -> Void = { _ in }) async throws {
        for sha in try store.missingPhotos() {
            try Task.checkCancellation()
            let status = try await transport.blobStatus(sha256: sha)
            guard status.complete else { continue }  // not uploaded by its owner yet: next time
            report.bytesDownloaded += try await fetchPhoto(sha256: sha)
            report.photosDownloaded += 1
            progress(SyncProgress(phase: .download, records: report.photosDownloaded, bytes: report.bytesDownloaded, totalBytes: nil))
        }
    }

    /// Downloads one photo (resuming a partial file), verifies its SHA-256 and stores it.
    @discardableResult
    public func fetchPhoto(sha256 sha: String) async throws -> Int64 {
        let partial = store.blobDirectory.appendingPathComponent("tmp").appendingPathComponent("\(sha).part")
        let have = ((try? FileManager.default.attributesOfItem(atPath: partial.path))?[.size] as? Int64) ?? 0
        let received = try await transport.downloadBlob(sha256: sha, to: partial, from: have)
        let (digest, size) = try Self.hash(partial)
        guard digest == sha else {
            try? FileManager.default.removeItem(at: partial)
            throw ClientError(.badResponse, "downloaded photo \(sha) has hash \(digest); discarded")
        }
        let target = store.blobURL(sha)
        if FileManager.default.fileExists(atPath: target.path) {
            try? FileManager.default.removeItem(at: partial)
        } else {
            do { try FileManager.default.moveItem(at: partial, to: target) } catch { throw ClientError.wrap(error, "cannot store photo \(sha)") }
            ClientStore.syncDirectory(store.blobDirectory)
        }
        try store.setDownloaded(sha, size: size)
        return received
    }

    static func hash(_ file: URL) throws -> (String, Int64) {
        do {
            let handle = try FileHandle(forReadingFrom: file)
            defer { try? handle.close() }
            var hasher = Crypto.SHA256()
            var size: Int64 = 0
            while let chunk = try handle.read(upToCount: ClientStore.chunkSize), !chunk.isEmpty {
                hasher.update(data: chunk)
                size += Int64(chunk.count)
            }
            return (hasher.finalize().hex, size)
        } catch {
            throw ClientError.wrap(error, "cannot read \(file.path)")
        }
    }
}
