import ButlerModel
import Foundation
import Logging
import Synchronization

/// Notes when each device last made an authenticated request, for the console's devices page:
/// at most once a minute per device and node (a memory of the last write per name), so a busy
/// handheld costs one small upsert a minute, not one per request. A failed write is logged and
/// never fails the request.
final class LastSeen: Sendable {
    let storage: any ConsoleStorage
    let interval: TimeInterval
    let written = Mutex<[String: Date]>([:])

    init(storage: any ConsoleStorage, interval: TimeInterval = 60) {
        self.storage = storage
        self.interval = interval
    }

    func note(_ device: String, at now: Date, logger: Logger) async {
        let due = written.withLock { written -> Bool in
            if let last = written[device], now.timeIntervalSince(last) < interval, now >= last { return false }
            written[device] = now
            return true
        }
        guard due else { return }
        do { try await storage.noteDeviceSeen(name: device, at: now) } catch {
            logger.notice("could not note the device's last sighting", metadata: ["device.name": "\(device)", "error": "\(error)"])
        }
    }
}
