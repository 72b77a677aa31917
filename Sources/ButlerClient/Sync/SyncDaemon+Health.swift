import Foundation
import Logging

extension SyncDaemon {
    /// Logs what `butler doctor` would report, as one `health` line of flat `key=value` metadata
    /// (`pending_edits=0 refused_edits=0 clock_offset_ms=-3 zone.east-3.checksum=ok …`) that a log
    /// shipper can turn into metrics. A failure to examine is logged, never thrown: it must not
    /// stop the daemon syncing.
    func logHealth() async {
        do {
            let report = try await Doctor.examine(engine)
            let metadata = Logger.Metadata(uniqueKeysWithValues: report.metrics.map { ($0.key, .string($0.value)) })
            if report.attention.isEmpty {
                logger.info("health", metadata: metadata)
            } else {
                logger.warning("health", metadata: metadata)
            }
        } catch {
            logger.info("health not examined", metadata: ["error.message": "\(error)"])
        }
    }
}
