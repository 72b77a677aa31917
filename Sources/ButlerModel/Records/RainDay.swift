import Foundation

/// A day it rained in a zone (下雨天), recorded by the butlers who saw it.
///
/// A leak repaired under warranty gets its callback after the first rainy day following the repair
/// (004 §三), so rain days are records that sync like any other. There is one record per zone and
/// estate-local day, with an id derived from both (`rain:<zone>:<yyyy-MM-dd>`, enforced by
/// ``RecordIdentity``): every device that records the same rain day writes the same record, and
/// concurrent recordings merge into one day.
///
/// Each recording is a report `reports/<id>` = `{"at", "note"?}` (the id is the dot that wrote
/// it, the author is the entry's), kept side by side like notes (``ResolutionRule/notesKeepAll``):
/// two butlers who record the same rain offline end with one rain day and two reports, never a
/// conflict. The day counts as rainy while it holds at least one report. A mistaken report is
/// withdrawn by removing it (``withdraw(_:replicas:stamp:)``); a removal supersedes only the reports
/// its writer had seen, so a report made concurrently elsewhere keeps the day rainy, and a butler's
/// device may remove only its own reports (the server refuses an erasure of another device's value).
public struct RainDay: Hashable, Sendable {
    /// One butler's recording of the rain.
    public struct Report: Hashable, Sendable {
        public let id: String
        public let author: String
        /// When it was recorded.
        public let at: Date?
        public let note: String?
        /// The replica that wrote it.
        public let replica: ReplicaID

        public var jsonValue: JSONValue {
            [
                "id": .string(id), "by": .string(author), "at": at?.wire ?? .null, "note": note.map(JSONValue.string) ?? .null,
            ]
        }
    }

    /// The prefix of a rain day's record id: `rain:<zone>:<yyyy-MM-dd>`.
    public static let idPrefix = "rain:"

    /// How far after its recording a report's `at` may be: a little clock slack, never the future.
    public static let maxDatedAhead: TimeInterval = 10 * 60

    public let id: RecordID
    public let zone: Zone
    public let day: EstateCalendar.Day
    /// The reports that stand, by id.
    public let reports: [Report]

    /// Whether the day counts as rainy: someone's report stands.
    public var isRecorded: Bool { !reports.isEmpty }

    /// The record id of the rain day `day` in `zone`.
    public static func recordID(zone: Zone, day: EstateCalendar.Day) throws -> RecordID {
        try RecordID("\(idPrefix)\(zone.rawValue):\(day)")
    }

    /// The day a rain-day record id names, when it is `rain:<zone>:<yyyy-MM-dd>` for `zone`.
    public static func day(inID id: RecordID, zone: Zone) -> EstateCalendar.Day? {
        let prefix = "\(idPrefix)\(zone.rawValue):"
        guard id.rawValue.hasPrefix(prefix), let day = try? EstateCalendar.Day(String(id.rawValue.dropFirst(prefix.count))),
            (try? recordID(zone: zone, day: day)) == id
        else { return nil }
        return day
    }

    public init(_ state: RecordState) throws {
        guard state.type == .rainDay else { throw ModelError(.unknownRecord, "\(state.id) is a \(state.type.rawValue), not a rain day") }
        guard let day = Self.day(inID: state.id, zone: state.zone) else {
            throw ModelError(.recordMismatch, "a rain day's id must be rain:\(state.zone):<yyyy-MM-dd>, not \(state.id)")
        }
        id = state.id
        zone = state.zone
        self.day = day
        var reports: [Report] = []
        for r in Resolver.resolveAll(state) where r.path.segments.count == 2 && r.path.segments[0] == "reports" {
            for sibling in r.siblings {
                reports.append(Report(
                    id: r.siblings.count == 1 ? String(r.path.segments[1]) : "\(r.path.segments[1])@\(sibling.dot)",
                    author: sibling.entry.author, at: sibling.value["at"]?.date, note: sibling.value["note"]?.stringValue,
                    replica: sibling.dot.replica))
            }
        }
        self.reports = reports.sorted { ($0.at ?? .distantPast, $0.id) < ($1.at ?? .distantPast, $1.id) }
    }

    /// Records that it rained in `state`'s zone on its day; returns the delta (one new report).
    @discardableResult
    public static func report(_ state: inout RecordState, note: String?, at: Date, stamp: EditStamp) throws -> RecordState {
        _ = try RainDay(state)
        var value: [String: JSONValue] = ["at": at.wire]
        if let note { value["note"] = .string(note) }
        try validateReport(.object(value))
        let id = state.nextDot(for: stamp.author.replica).description
        return state.write(try FieldPath("reports", id), .object(value), stamp: stamp)
    }

    /// Withdraws the reports this replica sees that were written by one of `replicas` (every
    /// report it sees when `nil`, as a supervisor may); returns the delta, empty when there is none.
    /// A report written concurrently elsewhere survives and keeps the day rainy.
    @discardableResult
    public static func withdraw(_ state: inout RecordState, replicas: Set<ReplicaID>?, stamp: EditStamp) throws -> RecordState {
        _ = try RainDay(state)
        var delta = RecordState(id: state.id, type: .rainDay, zone: state.zone)
        let paths = state.fields.keys.filter { $0.segments.count == 2 && $0.segments[0] == "reports" }.sorted()
        for path in paths {
            let writers = Set(state.siblings(path).map(\.dot.replica))
            guard !writers.isEmpty, replicas.map({ writers.isSubset(of: $0) }) ?? true else { continue }
            try delta.merge(state.write(path, nil, stamp: stamp))
        }
        return delta
    }

    /// Refuses reports dated after they were recorded (the schema's one check of dated claims,
    /// ``FieldSchema/checkDatedValues(_:)``), and rain on a day that had not begun anywhere on
    /// earth (UTC+14) when it was recorded: a device cannot record rain before it falls.
    public static func checkReportTimes(_ delta: RecordState) throws {
        guard delta.type == .rainDay else { return }
        try FieldSchema.rainDay.checkDatedValues(delta)
        guard let day = Self.day(inID: delta.id, zone: delta.zone) else { return }
        let earliestZone = EstateCalendar(utcOffsetSeconds: 14 * 3600)
        for register in delta.fields.values {
            for entry in register.values {
                let recorded = Date(timeIntervalSince1970: Double(entry.time.millis) / 1000)
                if day > earliestZone.day(of: recorded) {
                    throw ModelError(.invalidValue, "rain on \(day) was recorded at \(Timestamp.format(recorded)), before that day began")
                }
            }
        }
    }

    /// Whether `delta` reports rain for a day that has not begun anywhere on earth at `now` (the
    /// server's clock): ``checkReportTimes(_:)`` judges by the entry's clock, which a device that
    /// runs fast sets ahead.
    public static func reportsDayNotBegun(_ delta: RecordState, now: Date) -> Bool {
        guard delta.type == .rainDay, let day = Self.day(inID: delta.id, zone: delta.zone) else { return false }
        return day > EstateCalendar(utcOffsetSeconds: 14 * 3600).day(of: now)
    }

    public var jsonValue: JSONValue {
        [
            "id": .string(id.rawValue), "zone": .string(zone.rawValue), "day": .string(day.description), "rain": .bool(isRecorded),
            "reports": .array(reports.map(\.jsonValue)),
        ]
    }

    static let validateReport: @Sendable (JSONValue) throws -> Void = { value in
        let r = try JSONObjectReader(value, path: "report")
        try Shape.time(try r.value("at"))
        if let note = r.members["note"] { try Shape.checkText(note, 500) }
        for key in r.members.keys where key != "at" && key != "note" {
            throw ModelError(.invalidField, "report has unknown member \"\(key)\"")
        }
    }
}
