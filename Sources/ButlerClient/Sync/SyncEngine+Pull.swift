import ButlerModel
import Logging
import Metrics

/// The pull loop's steps (``SyncEngine/pull(into:progress:)``).
extension SyncEngine {
    /// The first page after `cursor`. A server configured with a lower page limit than asked
    /// refuses the request (`invalid-value`); the pull then goes on in pages of 1000, the size
    /// every server takes, and `limit` says so for the pages after.
    func pullPage(after cursor: String?, limit: inout Int) async throws -> PullResponse {
        do {
            return try await transport.pull(cursor: cursor, limit: limit)
        } catch let error as ClientError where error.code == .invalidValue && limit > Self.basePullPageSize {
            logger.info("the server refused the page size; pulling in pages of \(Self.basePullPageSize)", metadata: ["sync.pageSize": "\(limit)"])
            limit = Self.basePullPageSize
            return try await transport.pull(cursor: cursor, limit: limit)
        }
    }

    /// A page size every server takes (its default).
    static let basePullPageSize = 1000

    /// Counts a stored page into the report and tells the progress callback.
    func record(_ page: PullResponse, into report: inout SyncReport, progress: (SyncProgress) -> Void) {
        report.pulled += page.changes.count
        // A change this build cannot read is set aside by the decoder, never the whole page:
        // the rest of the page is stored and the feed moves on.
        for skipped in page.skipped {
            report.skipped += 1
            logger.info("pulled change set aside", metadata: ["record.id": "\(skipped.id)", "error.code": "\(skipped.code)", "error.message": "\(skipped.message)"])
        }
        Counter(label: "butler_client_changes_pulled_total").increment(by: page.changes.count)
        progress(SyncProgress(phase: .pull, records: report.pulled, bytes: 0, totalBytes: nil))
    }
}
