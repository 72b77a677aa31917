import ButlerFiles
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
    /// Edits refused for good in this sync (kept in the outbox, listed by `butler refused list`).
    public var refused = 0
    /// Edits held back in this sync for a reason that can clear; pushed again on the next sync.
    public var held = 0
    /// Held `clock-ahead` edits re-stamped before pushing, once the device clock was right.
    public var restamped = 0
    /// Records rebuilt from the server's state after a discarded edit or a move to a fresh replica id.
    public var rebased = 0
    /// Queued edits re-stamped under a fresh replica id, because the device's id turned out to be
    /// shared with another store (a cloned image, a restored backup).
    public var replicaRestamped = 0
    /// Photos the server's quota held back in this sync (they stay on the device and go later).
    public var photosHeld = 0
    /// Pulled changes set aside because this build cannot read them (a record over the limits or
    /// of an unknown shape); the rest of their page was stored.
    public var skipped = 0
    public var pulled = 0
    public var photosUploaded = 0
    public var bytesUploaded: Int64 = 0
    public var photosDownloaded = 0
    public var bytesDownloaded: Int64 = 0
    /// Records re-fetched, rebuilt, and edits queued again by the integrity check (§8.3).
    public var refetched = 0
    public var repaired = 0
    public var requeued = 0
    /// The zones' checksums on the page that ended the pull, when the server sent them.
    public var serverChecksums: [String: String]? = nil

    public init() {}

    public var jsonValue: JSONValue {
        [
            "pushed": .int(Int64(pushed)), "refused": .int(Int64(refused)), "held": .int(Int64(held)),
            "restamped": .int(Int64(restamped)), "rebased": .int(Int64(rebased)),
            "replicaRestamped": .int(Int64(replicaRestamped)), "skipped": .int(Int64(skipped)), "photosHeld": .int(Int64(photosHeld)), "pulled": .int(Int64(pulled)),
            "photosUploaded": .int(Int64(photosUploaded)), "bytesUploaded": .int(bytesUploaded),
            "photosDownloaded": .int(Int64(photosDownloaded)), "bytesDownloaded": .int(bytesDownloaded),
            "refetched": .int(Int64(refetched)), "repaired": .int(Int64(repaired)), "requeued": .int(Int64(requeued)),
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
        /// Changes per pull page: the most a server serves (it also ends a page at its byte limit).
        public var pullPageSize = WireProtocol.maxPullLimit
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

    /// A full sync: learn the device's role and zones, push, rebuild records whose refused edits
    /// were discarded, upload photos, pull, download photos. Throws on the first failure;
    /// everything acknowledged before it stays done. Whether the sync left anything behind is
    /// ``completion()``'s to say.
    public func sync(progress: @escaping @Sendable (SyncProgress) -> Void = { _ in }) async throws -> SyncReport {
        try await recordingFailure { try await syncSteps(progress: progress) }
    }

    func syncSteps(progress: @escaping @Sendable (SyncProgress) -> Void) async throws -> SyncReport {
        var report = SyncReport()
        // Every time, not only the first: a zone assigned or a role changed on the server since
        // the last sync is what the local checks and the held `zone-forbidden` edits wait for.
        try store.setDeviceInfo(try await transport.device())
        try await push(into: &report, progress: progress)
        try await rebaseDiscarded(into: &report)
        try await uploadPhotos(into: &report, progress: progress)
        try await pull(into: &report, progress: progress)
        try await checkIntegrity(into: &report)
        if configuration.downloadPhotos { try await downloadPhotos(into: &report, progress: progress) }
        try store.setLastSync(store.clock.now())
        Counter(label: "butler_client_sync_total").increment()
        logger.info(
            "sync done",
            metadata: [
                "sync.pushed": "\(report.pushed)", "sync.pulled": "\(report.pulled)", "sync.refused": "\(report.refused)",
                "sync.held": "\(report.held)",
            ])
        return report
    }

    /// Pushes the outbox in bounded batches until every pending delta has been answered once.
    ///
    /// The deltas of one record are joined into one push entry. When the server refuses such a
    /// joined entry, its deltas are marked to go one by one and the loop goes on, so that only
    /// the edit that earned the refusal ends refused and the record's other edits land in this
    /// same sync. A single delta refused with a transient code (``RefusedEdit/transientCodes``)
    /// is held: not pushed again in this sync, pushed again in the next. Before the first batch,
    /// held `clock-ahead` deltas are re-stamped if the device clock has been put right.
    public func push(into report: inout SyncReport, progress: @escaping @Sendable (SyncProgress) -> Void = { _ in }) async throws {
        report.restamped += try store.restampClockAhead()
        var held = Set<Int64>()
        // Each round takes every delta it sends out of the rounds to come (accepted, refused or
        // held) or splits a joined entry into single deltas, which happens once per delta: so a
        // round per delta twice over, plus slack for edits made while pushing, is never reached
        // by a server that answers as the protocol says.
        let pending = try store.status().pendingEdits
        var maxRounds = 2 * pending + 8
        var moved = false
        // A move an earlier sync could not finish (no coverage, a killed process) is made first.
        if try store.needsReplicaMove() {
            moved = true
            maxRounds += 2 * (try await moveReplica(into: &report))
        }
        var round = 0
        while round < maxRounds {
            round += 1
            try Task.checkCancellation()
            let groups = try store.pendingGroups(maxDeltas: configuration.pushBatchSize, maxBytes: configuration.pushBatchBytes, skipping: held)
            guard !groups.isEmpty else { return }
            let response = try await transport.push(PushRequest(deltas: groups.map(\.delta)))
            let outcome = try store.acknowledge(groups, response)
            if outcome.replicaConflicts > 0 && !moved {
                moved = true
                let restamped = try await moveReplica(into: &report)
                maxRounds += 2 * restamped
            }
            report.pushed += outcome.accepted
            report.refused += outcome.refused
            report.held += outcome.held.count
            held.formUnion(outcome.held)
            Counter(label: "butler_client_deltas_pushed_total").increment(by: outcome.accepted)
            if outcome.split > 0 {
                logger.info("server refused joined edits: pushing them one by one", metadata: ["sync.split": "\(outcome.split)"])
            }
            if outcome.refused > 0 {
                logger.info("server refused edits", metadata: ["sync.refused": "\(outcome.refused)"])
            }
            if !outcome.held.isEmpty {
                logger.info("server held edits back; they go again on the next sync", metadata: ["sync.held": "\(outcome.held.count)"])
            }
            progress(SyncProgress(phase: .push, records: report.pushed + report.refused + report.held, bytes: 0, totalBytes: nil))
        }
        logger.info("push stopped after \(maxRounds) rounds; what is left goes with the next sync")
    }

    /// Moves the device to a fresh replica id: this one is shared with another store (a cloned
    /// image, a restored backup), so its queued edits were refused as `dot-reused` or
    /// `foreign-dot`. Reads the server's state of every record with queued edits first (so values
    /// the server already holds are not sent twice), then asks for the id, then re-stamps in one
    /// transaction (``ClientStore/moveToReplica(_:server:)``). Interrupted anywhere, the refusals
    /// stay and the next sync moves again; an id issued but not used costs nothing.
    func moveReplica(into report: inout SyncReport) async throws -> Int {
        var server: [RecordID: RecordState] = [:]
        for id in try store.queuedRecordIDs() {
            try Task.checkCancellation()
            // A record the server does not hold, or cannot show, has nothing to compare: its
            // values are re-stamped as they are.
            if case .held(let state) = try await serverCopy(of: id) { server[id] = state }
        }
        let fresh = try await transport.issueReplica()
        let restamped = try store.moveToReplica(fresh, server: server)
        report.replicaRestamped += restamped
        logger.info("replica id shared with another store: moved to a fresh one", metadata: ["device.replica": "\(fresh)", "sync.restamped": "\(restamped)"])
        return restamped
    }

    /// Rebuilds every record whose refused edit was discarded (``ClientStore/discardRefused(_:)``)
    /// as the server's state of it joined with its remaining outbox deltas. Runs after the push,
    /// so the server's state already holds this device's accepted edits. A record outside the
    /// device's zones (`zone-forbidden`) keeps its mark for the next sync.
    public func rebaseDiscarded(into report: inout SyncReport) async throws {
        try await reportDiscarded()
        for id in try store.recordsToRebase() {
            try Task.checkCancellation()
            switch try await serverCopy(of: id) {
            case .held(let state): try store.rebase(id, onto: state)
            case .absent: try store.rebase(id, onto: nil)
            case .unavailable(let error):
                logger.info("cannot rebuild the record yet; it keeps its mark", metadata: ["record.id": "\(id)", "error.code": "\(error.code)"])
                continue
            }
            report.rebased += 1
        }
    }

    /// Tells the server which refused edits the butler discarded here, so its console stops listing
    /// them as pending (`POST /v1/devices/me/discarded`), up to 1000 and about 256 KiB a request.
    ///
    /// The report only feeds the supervisor's page, so it never fails the sync: when the server
    /// cannot be reached (or answers 5xx) what is left goes with the next sync; when it refuses the
    /// report (a server without the call answers 404, an older one never heard of it), there is
    /// nothing more to tell it and the rows are forgotten.
    func reportDiscarded() async throws {
        while let batch = try store.discardedToReport(limit: DiscardedEdits.maxEdits, maxBytes: 256 << 10) {
            try Task.checkCancellation()
            do {
                let resolved = try await transport.reportDiscarded(DiscardedEdits(edits: batch.edits))
                logger.info("discarded edits reported to the server", metadata: ["sync.discarded": "\(batch.edits.count)", "refusals.resolved": "\(resolved)"])
            } catch let error as ClientError where error.isTransient {
                logger.info("discarded edits not reported yet; they go with the next sync", metadata: ["error.code": "\(error.code)"])
                return
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.info("the server did not take the report of discarded edits; not sent again", metadata: ["error": "\(error)"])
            }
            try store.forgetDiscarded(through: batch.through)
        }
    }

    /// What the server holds of one record, as the rebuilds after a discard or a replica move see it.
    enum ServerCopy {
        case held(RecordState)
        /// The server holds no such record.
        case absent
        /// The server will not show it now: outside this device's zones (a zone change not yet
        /// known), or damaged on the server (`stored-record-unreadable`).
        case unavailable(ClientError)
    }

    /// `GET /v1/records/{id}`, with the refusals that are about the record (not the connection)
    /// as a value: a caller skips that record and goes on with the others.
    func serverCopy(of id: RecordID) async throws -> ServerCopy {
        do {
            return try await transport.record(id: id).map(ServerCopy.held) ?? .absent
        } catch let error as ClientError where [.zoneForbidden, .storedRecordUnreadable].contains(error.code) {
            return .unavailable(error)
        }
    }

    /// Where the device stands after a sync: complete, still waiting, or needing a person. The one
    /// policy `butler sync` and `butler-syncd` share.
    public func completion() throws -> SyncCompletion {
        let status = try store.status()
        let held = try store.refusedEdits().filter { !$0.isFinal }
        return SyncCompletion(
            pendingEdits: status.pendingEdits, heldEdits: status.heldEdits, refusedEdits: status.refusedEdits,
            pendingPhotoBytes: status.pendingPhotoBytes, heldCodes: Array(Set(held.map(\.code))).sorted { $0.rawValue < $1.rawValue })
    }

    /// Uploads every local photo the server does not hold yet, resuming from the server's byte count.
    public func uploadPhotos(into report: inout SyncReport, progress: @escaping @Sendable (SyncProgress) -> Void = { _ in }) async throws {
        for (sha, size) in try store.pendingUploads() {
            try Task.checkCancellation()
            let sent: Int64
            do {
                sent = try await upload(sha256: sha, size: size, progress: progress)
            } catch let error as ClientError where error.code == .quotaExceeded {
                // Over this device's quota: the photo stays here, whole, and goes with a later sync.
                // The pull still runs, so the device keeps receiving everyone else's edits.
                report.photosHeld += 1
                logger.info("photo upload held by the server's quota", metadata: ["blob.sha256": "\(sha)", "error.message": "\(error.message)"])
                continue
            }
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
            guard offset <= size else {
                throw ClientError(.badResponse, "the server holds \(offset) bytes of a \(size)-byte photo \(sha), more than the photo has")
            }
            // Every byte held but not installed: another upload is hashing them now, or the server
            // stopped between its last write and the install. An empty chunk at the end asks it
            // to verify and install them (or says the other upload is still at it).
            let count = min(configuration.uploadChunkSize, size - offset)
            let base = sent
            do {
                status = try await transport.uploadBlob(sha256: sha, file: file, offset: offset, count: count, length: size) { n in
                    progress(SyncProgress(phase: .upload, records: 0, bytes: base + n, totalBytes: size))
                }
            } catch let error as ClientError where [.offsetMismatch, .uploadInProgress].contains(error.code) && races < 20 {
                // The server was still writing a cut-off earlier attempt: ask again where it stands.
                races += 1
                try await Task.sleep(for: .milliseconds(100 * races))
                status = try await transport.blobStatus(sha256: sha)
                continue
            }
            if count == 0 && !status.complete {
                throw ClientError(.badResponse, "the server holds all \(size) bytes of photo \(sha) but neither installs them nor says why")
            }
            sent += status.received - offset
            try store.setUploaded(sha, bytes: status.received, complete: status.complete)
        }
        try store.setUploaded(sha, bytes: size, complete: true)
        Counter(label: "butler_client_blob_bytes_uploaded_total").increment(by: Int(sent))
        return sent
    }

    /// Pulls the change feed from the stored cursor until the server says there is no more.
    ///
    /// One page is in flight while the last is stored: the request for page N+1 (after page N's
    /// cursor) goes out before page N's transaction, which stores its states and its cursor
    /// together. A failure fetching N+1 leaves page N stored; a failure storing N drops N+1 unread,
    /// and the next pull starts again from the cursor stored with N−1. Nothing is skipped.
    public func pull(into report: inout SyncReport, progress: @escaping @Sendable (SyncProgress) -> Void = { _ in }) async throws {
        var limit = configuration.pullPageSize
        var page = try await pullPage(after: try store.cursor(), limit: &limit)
        while true {
            try Task.checkCancellation()
            let (current, size) = (page, limit)
            async let following = current.more ? transport.pull(cursor: current.cursor, limit: size) : nil
            try store.applyPull(current)
            record(current, into: &report, progress: progress)
            report.serverChecksums = current.checksums
            guard let next = try await following else { return }
            page = next
        }
    }

    /// Downloads every referenced photo this device lacks, resuming partial downloads.
    public func downloadPhotos(into report: inout SyncReport, progress: @escaping @Sendable (SyncProgress) -> Void = { _ in }) async throws {
        for sha in try store.missingPhotos() {
            try Task.checkCancellation()
            let status = try await transport.blobStatus(sha256: sha)
            guard status.complete else { continue }  // not uploaded by its owner yet: next time
            report.bytesDownloaded += try await fetchPhoto(sha256: sha, length: status.length)
            report.photosDownloaded += 1
            progress(SyncProgress(phase: .download, records: report.photosDownloaded, bytes: report.bytesDownloaded, totalBytes: nil))
        }
    }

    /// Downloads one photo (resuming a partial file), verifies its SHA-256 and stores it.
    ///
    /// A partial file that already holds all `length` bytes (the last download arrived whole but
    /// its end was not seen: a reply lost, a crash before the install) is verified and installed
    /// without asking for more: a request from its end would be refused (`416`) on every sync, and
    /// the photo would never arrive. Found by the deterministic simulation (seed 1, 168 hours).
    @discardableResult
    public func fetchPhoto(sha256 sha: String, length: Int64? = nil) async throws -> Int64 {
        let partial = store.blobDirectory.appendingPathComponent("tmp").appendingPathComponent("\(sha).part")
        let have = ((try? FileManager.default.attributesOfItem(atPath: partial.path))?[.size] as? Int64) ?? 0
        let received = try await length.map { have >= $0 } == true ? 0 : transport.downloadBlob(sha256: sha, to: partial, from: have)
        let target = store.blobURL(sha)
        let durability = store.durability
        let size = try await ClientError.mapping("cannot store photo \(sha)") {
            try await BlockingIO.run { () -> Int64 in
                let (digest, size) = try StreamingSHA256.of(file: partial)
                guard digest == sha else {
                    try? FileManager.default.removeItem(at: partial)
                    throw ClientError(.badResponse, "downloaded photo \(sha) has hash \(digest); discarded")
                }
                try DurableFile.sync(partial, durability: durability)
                try DurableFile.install(partial, at: target, durability: durability)
                return size
            }
        }
        try store.setDownloaded(sha, size: size)
        return received
    }
}
