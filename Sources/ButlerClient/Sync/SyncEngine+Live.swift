import ButlerModel
import Foundation
import Metrics

extension SyncEngine {
    /// One live pull (`GET /v1/pull?wait=`): waits up to `wait` for a change in the device's
    /// zones and stores it the moment it commits on the server, then pulls the rest of the feed if
    /// the page was not the last. Returns the changes stored; 0 when the wait ended with nothing.
    /// The page and its cursor are stored in one transaction, as every pull page is.
    public func pullLive(wait: Duration, into report: inout SyncReport) async throws -> Int {
        let before = report.pulled
        let page = try await transport.pull(cursor: try store.cursor(), limit: configuration.pullPageSize, wait: wait)
        // An empty last page is the wait running out: nothing to store, the cursor is unchanged.
        guard !page.changes.isEmpty || !page.skipped.isEmpty || page.more else { return 0 }
        try store.applyPull(page)
        record(page, into: &report, progress: { _ in })
        Counter(label: "butler_client_live_changes_total").increment(by: page.changes.count)
        if page.more { try await pull(into: &report) }
        return report.pulled - before
    }
}
