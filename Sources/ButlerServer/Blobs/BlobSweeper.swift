import ButlerModel
import Foundation
import Logging
import ServiceLifecycle

/// Expires photos that no record references and partial uploads nobody finished, once they are
/// older than ``ServerConfiguration/unreferencedBlobTTL`` (7 days by default), so that what a
/// device uploads without ever sending its record cannot pile up on the server's disk.
///
/// A photo's record normally reaches the server before its bytes (a client pushes, then uploads),
/// so a blob still unreferenced after days belongs to a record that was refused or discarded.
/// Runs every ``ServerConfiguration/sweepInterval`` while the server serves; `butler-server blobs
/// sweep` runs it once.
public struct BlobSweeper: Service {
    let storage: any SyncStorage
    let blobs: BlobStore
    let configuration: ServerConfiguration
    let logger: Logger
    /// Awaited before the first sweep: the application passes "the store is migrated".
    let ready: @Sendable () async -> Void

    public init(
        storage: any SyncStorage, blobs: BlobStore, configuration: ServerConfiguration, logger: Logger = Logger(label: "butler.server.sweeper"),
        ready: @escaping @Sendable () async -> Void = {}
    ) {
        self.storage = storage
        self.blobs = blobs
        self.configuration = configuration
        self.logger = logger
        self.ready = ready
    }

    /// What one sweep deleted.
    public struct Report: Hashable, Sendable {
        public var blobs = 0
        public var bytes: Int64 = 0
        public var partials = 0

        public init(blobs: Int = 0, bytes: Int64 = 0, partials: Int = 0) {
            self.blobs = blobs
            self.bytes = bytes
            self.partials = partials
        }
    }

    public func run() async throws {
        await ready()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let report = try await sweep(now: configuration.clock.now())
                if report.blobs + report.partials > 0 {
                    logger.info("swept unreferenced photos", metadata: ["blobs.deleted": "\(report.blobs)", "blobs.bytes": "\(report.bytes)", "blobs.partials": "\(report.partials)"])
                }
            } catch {
                logger.warning("blob sweep failed; next run retries", metadata: ["error": "\(error)"])
            }
            // Ends early (and the loop with it) when the server shuts down.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: configuration.sweepInterval) }
        }
    }

    /// Deletes what has expired as of `now`.
    public func sweep(now: Date) async throws -> Report {
        var report = Report()
        let cutoff = now.addingTimeInterval(-configuration.unreferencedBlobTTL)
        for blob in try await storage.unreferencedBlobs() where blob.completedAt < cutoff {
            // Checked again just before deleting: a record may have arrived since the list was read.
            guard try await !storage.isPhotoReferenced(sha256: blob.sha256) else { continue }
            await blobs.remove(blob.sha256)
            try await storage.forgetBlob(sha256: blob.sha256)
            report.blobs += 1
            report.bytes += blob.bytes
        }
        report.partials = await blobs.removePartials(untouchedSince: cutoff)
        return report
    }
}
