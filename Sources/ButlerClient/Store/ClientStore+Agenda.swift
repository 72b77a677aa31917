import ButlerModel
import Foundation

/// `butler today`: the device's agenda, from what it holds (works offline).
extension ClientStore {
    /// What is due or overdue at `now` (default: the store's clock) in `zone`, or in every zone
    /// this device works in (every zone it holds records of, before it has learnt its zones).
    /// See ``Agenda``.
    public func agenda(at now: Date? = nil, zone: Zone? = nil) throws -> Agenda {
        let zones: Set<Zone>? = try zone.map { [$0] } ?? identity().device.map { Set($0.zones) }
        return Agenda(try allRecords(), now: now ?? clock.now(), calendar: try estateCalendar(), zones: zones)
    }
}
