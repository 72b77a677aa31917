import ButlerModel
import Foundation
import GRDB

/// Rain days and the estate calendar on the device.
extension ClientStore {
    /// The estate's calendar as this device knows it: the time zone the server sent at the last
    /// `init` or sync (+08:00 until then, or from a server that sends none), and the rain days
    /// recorded in the `rain-day` records the device holds, per zone.
    ///
    /// The one entry point for deadlines and local times on the device:
    ///
    /// ```swift
    /// let calendar = try store.estateCalendar()
    /// let due = Deadlines.callbackDue(for: try store.workOrder(id), calendar: calendar)
    /// ```
    public func estateCalendar() throws -> EstateCalendar {
        try read { db in
            let offset = try Self.identity(db).device?.estateUTCOffsetSeconds ?? EstateCalendar.defaultUTCOffsetSeconds
            let rain = try Data.fetchAll(db, sql: "SELECT state FROM records WHERE type = ? ORDER BY id", arguments: [RecordType.rainDay.rawValue])
                .map(unsealed)
            return EstateCalendar(utcOffsetSeconds: offset).withRain(from: rain)
        }
    }

    /// Records that it rained on `day` (estate local) in each of `zones`, or in every zone the
    /// device works in when `nil`; returns the rain-day record ids, one per zone. A day this device
    /// already reported is left as it is (its id is still returned); a day another device reported
    /// gets this device's report beside it.
    ///
    /// - Throws: ``ClientError`` `invalid-value` for a day after today (estate local time),
    ///   `invalid-argument` when `zones` is `nil` and the device does not know its zones yet,
    ///   `zone-not-assigned` for a zone the device does not work in. Nothing is written then.
    @discardableResult
    public func addRainDay(_ day: EstateCalendar.Day, zones: [Zone]? = nil, note: String? = nil) throws -> [RecordID] {
        try write { db in
            let zones = try Self.rainZones(db, zones)
            let calendar = EstateCalendar(utcOffsetSeconds: try Self.identity(db).device?.estateUTCOffsetSeconds ?? EstateCalendar.defaultUTCOffsetSeconds)
            let today = calendar.day(of: clock.now())
            guard day <= today else {
                throw ClientError(.invalidValue, "rain cannot be recorded for \(day), after today (\(today), estate time \(EstateCalendar.formatUTCOffset(calendar.utcOffsetSeconds)))")
            }
            return try zones.map { zone in
                let id = try ClientError.mapping { try RainDay.recordID(zone: zone, day: day) }
                return try self.edit(db, id, create: (.rainDay, zone)) { state, stamp, now in
                    guard state.type == .rainDay else { throw ClientError(.unknownRecord, "\(id) is a \(state.type.rawValue), not a rain day") }
                    // Again from this device: nothing to add. Another device's report does not stop
                    // this one: each report stands on its own (a withdrawal removes only its author's).
                    if try ClientError.mapping({ try RainDay(state).reports.contains { $0.replica == stamp.author.replica } }) {
                        return (RecordState(id: id, type: .rainDay, zone: zone), id)
                    }
                    return (try ClientError.mapping { try RainDay.report(&state, note: note, at: now, stamp: stamp) }, id)
                }
            }
        }
    }

    /// Withdraws this device's reports of rain on `day` in each of `zones` (every zone the device
    /// works in when `nil`); a supervisor's device withdraws every report it holds. Returns the
    /// rain days as they stand afterwards: still rainy when another device's report remains.
    ///
    /// - Throws: ``ClientError`` `unknown-record` when the device holds no report of its own to
    ///   withdraw for that day in any of the zones; nothing is written then.
    @discardableResult
    public func withdrawRainDay(_ day: EstateCalendar.Day, zones: [Zone]? = nil) throws -> [RainDay] {
        try write { db in
            let identity = try Self.identity(db)
            let zones = try Self.rainZones(db, zones)
            let mine: Set<ReplicaID>? = identity.device?.role.supervises == true ? nil : [identity.replica]
            var withdrawn = 0
            var result: [RainDay] = []
            for zone in zones {
                let id = try ClientError.mapping { try RainDay.recordID(zone: zone, day: day) }
                guard let stored = try self.loadRecord(db, id), stored.type == .rainDay else { continue }
                let after = try self.edit(db, id) { state, stamp, _ in
                    let delta = try ClientError.mapping { try RainDay.withdraw(&state, replicas: mine, stamp: stamp) }
                    if !delta.isEmpty { withdrawn += 1 }
                    return (delta, try ClientError.mapping { try RainDay(state) })
                }
                result.append(after)
            }
            guard withdrawn > 0 else {
                throw ClientError(.unknownRecord, "this device recorded no rain on \(day) in \(zones.map(\.rawValue).joined(separator: ", ")); only the device that reported rain, or a supervisor's, withdraws it")
            }
            return result
        }
    }

    /// The rain days this device holds (with at least one report standing), of `zone` or of
    /// every zone, by day then zone.
    public func rainDays(zone: Zone? = nil) throws -> [RainDay] {
        try ClientError.mapping {
            try records(of: .rainDay).map(RainDay.init).filter { $0.isRecorded && (zone == nil || $0.zone == zone) }
                .sorted { ($0.day, $0.zone) < ($1.day, $1.zone) }
        }
    }

    /// The zones a rain command applies to: those given, or every zone the device works in.
    static func rainZones(_ db: Database, _ zones: [Zone]?) throws -> [Zone] {
        if let zones, !zones.isEmpty { return zones }
        guard let known = try identity(db).device?.zones, !known.isEmpty else {
            throw ClientError(.invalidArgument, "this device does not know its zones yet: give --zone, or run `butler sync` once first")
        }
        return known
    }
}
