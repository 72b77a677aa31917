import ButlerModel
import Foundation
import GRDB

/// Resident profiles (客户档案, 001 §4.1), visits (客户沟通记录) and visit coverage (001 §4.4.4).
///
/// Profiles hold personal data (phone, household, needs): like every record they are sealed at
/// rest when the device has a key, and nothing here logs their values.
extension ClientStore {
    /// The current month in the estate's local time.
    public func currentMonth() throws -> EstateMonth {
        EstateMonth(containing: try estateCalendar().day(of: clock.now()))
    }

    /// Creates a resident's profile; returns its id. `profile.household` is required; an unset
    /// `occupied` means occupied.
    public func addResident(zone: Zone, profile: Resident.Profile, note: String? = nil) throws -> RecordID {
        let id = try newRecordID("res")
        return try edit(id, create: (.resident, zone)) { state, stamp, now in
            let delta = try Resident.create(id: id, zone: zone, profile: profile, note: note, at: now, stamp: stamp)
            try state.merge(delta)
            return (delta, id)
        }
    }

    /// Changes a resident's profile fields and adds a note.
    ///
    /// - Throws: ``ClientError/Code/invalidArgument`` when nothing would change.
    public func updateResident(_ id: RecordID, profile: Resident.Profile, note: String? = nil) throws {
        guard !profile.isEmpty || note != nil else { throw ClientError(.invalidArgument, "nothing to change: give a field to set or --note") }
        try edit(id) { state, stamp, now in
            guard state.type == .resident else { throw ClientError(.unknownRecord, "no resident \(id) on this device") }
            return (try Resident.update(&state, profile: profile, note: note, at: now, stamp: stamp), ())
        }
    }

    /// Logs a visit to a resident (now, unless `at` says when it happened); returns the visit id.
    ///
    /// - Throws: ``ClientError/Code/invalidValue`` for a visit dated in the future (beyond
    ///   ``Resident/maxDatedAhead`` of clock slack), which the server would refuse.
    @discardableResult
    public func logVisit(resident: RecordID, channel: Resident.Channel, note: String?, at: Date? = nil) throws -> String {
        try edit(resident) { state, stamp, now in
            guard state.type == .resident else { throw ClientError(.unknownRecord, "no resident \(resident) on this device") }
            if let at, at.timeIntervalSince(now) > Resident.maxDatedAhead {
                throw ClientError(.invalidValue, "a visit cannot be dated in the future (\(Timestamp.format(at)); now is \(Timestamp.format(now)))")
            }
            let (id, delta) = try Resident.logVisit(&state, at: at ?? now, channel: channel, note: note, stamp: stamp)
            return (delta, id)
        }
    }

    /// The resolved profile of a resident.
    public func resident(_ id: RecordID) throws -> Resident {
        guard let state = try record(id), state.type == .resident else { throw ClientError(.unknownRecord, "no resident \(id) on this device") }
        return try ClientError.mapping { try Resident(state) }
    }

    /// Every resident on the device (of `zone`, when given), by household then id.
    public func residents(zone: Zone? = nil) throws -> [Resident] {
        let all = try ClientError.mapping { try records(of: .resident).map(Resident.init) }
        return all.filter { zone == nil || $0.zone == zone }.sorted { ($0.household ?? "", $0.id) < ($1.household ?? "", $1.id) }
    }

    /// Visit coverage of `month` (default: the current local month) for `zone`, or for every zone
    /// this device works in or holds residents of.
    public func coverage(month: EstateMonth? = nil, zone: Zone? = nil) throws -> VisitCoverage {
        let residents = try residents(zone: zone)
        var zones = Set(residents.map(\.zone))
        if let zone {
            zones = [zone]
        } else if let assigned = try identity().device?.zones {
            zones.formUnion(assigned)
        }
        return VisitCoverage(residents: residents, month: try month ?? currentMonth(), calendar: try estateCalendar(), zones: zones)
    }
}

extension Resident.Profile {
    /// Whether it changes no field.
    public var isEmpty: Bool { self == Resident.Profile() }
}
