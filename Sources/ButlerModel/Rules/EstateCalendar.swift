import Foundation

/// The estate's local calendar: its time zone, working days and the rain days it recorded.
///
/// Deadlines that speak of days ("the first rainy day", "one working day") are counted in the
/// estate's local time, not UTC. The default zone is China Standard Time. Rain is recorded per
/// zone (``RainDay`` records); ``rainDays(in:)`` answers for one zone.
public struct EstateCalendar: Hashable, Sendable {
    /// A local calendar date, `yyyy-MM-dd`.
    public struct Day: Hashable, Comparable, Sendable, CustomStringConvertible {
        /// Days since 1970-01-01.
        public let ordinal: Int64

        public init(ordinal: Int64) { self.ordinal = ordinal }

        /// Parses `yyyy-MM-dd`.
        public init(_ text: String) throws {
            let parts = text.split(separator: "-")
            guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
                let y = Int64(parts[0]), let m = Int64(parts[1]), let d = Int64(parts[2]), (1...12).contains(m), (1...31).contains(d)
            else { throw ModelError(.invalidValue, "a day must be written yyyy-MM-dd, got \"\(text)\"") }
            let ordinal = Timestamp.daysFromCivil(y, m, d)
            guard Timestamp.civil(fromDays: ordinal) == (y, m, d) else { throw ModelError(.invalidValue, "no such day \(text)") }
            self.ordinal = ordinal
        }

        public static func < (lhs: Day, rhs: Day) -> Bool { lhs.ordinal < rhs.ordinal }

        public var description: String {
            let (y, m, d) = Timestamp.civil(fromDays: ordinal)
            return String(format: "%04lld-%02lld-%02lld", y, m, d)
        }

        /// 0 = Monday … 6 = Sunday.
        var weekday: Int { Int(((ordinal % 7) + 7 + 3) % 7) }
    }

    /// The estate's default offset: China Standard Time, +8 h, no daylight saving.
    public static let defaultUTCOffsetSeconds = 8 * 3600

    /// Seconds east of UTC (China Standard Time: +8 h, no daylight saving).
    public let utcOffsetSeconds: Int
    /// Rain days that count in every zone.
    public let rainDays: Set<Day>
    /// Rain days recorded for one zone (``RainDay`` records).
    public let zoneRainDays: [Zone: Set<Day>]

    public init(utcOffsetSeconds: Int = defaultUTCOffsetSeconds, rainDays: Set<Day> = [], zoneRainDays: [Zone: Set<Day>] = [:]) {
        self.utcOffsetSeconds = utcOffsetSeconds
        self.rainDays = rainDays
        self.zoneRainDays = zoneRainDays
    }

    /// The rain days that count in `zone`: the estate-wide ones and the zone's own.
    public func rainDays(in zone: Zone) -> Set<Day> {
        rainDays.union(zoneRainDays[zone] ?? [])
    }

    /// This calendar with the rain days recorded in `records` (the ``RainDay`` records among them,
    /// each counting in its own zone).
    public func withRain(from records: [RecordState]) -> EstateCalendar {
        var zones = zoneRainDays
        for state in records where state.type == .rainDay {
            guard let rain = try? RainDay(state), rain.isRecorded else { continue }
            zones[rain.zone, default: []].insert(rain.day)
        }
        return EstateCalendar(utcOffsetSeconds: utcOffsetSeconds, rainDays: rainDays, zoneRainDays: zones)
    }

    /// The offset written `+08:00` / `-05:30` (also `+8`, `+0800`, `UTC+8`), in seconds east of UTC.
    ///
    /// - Throws: ``ModelError/Code/invalidValue`` unless it is a whole offset within ±14:00.
    public static func parseUTCOffset(_ text: String) throws -> Int {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        if rest.uppercased().hasPrefix("UTC") { rest = rest.dropFirst(3) }
        let bad = ModelError(.invalidValue, "a UTC offset is written like +08:00 or -05:30, got \"\(text)\"")
        guard let sign = rest.first, sign == "+" || sign == "-" else { throw bad }
        rest = rest.dropFirst()
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        let h: Substring
        let m: Substring
        switch (parts.count, rest.count) {
        case (2, _): (h, m) = (parts[0], parts[1])
        case (1, 4): (h, m) = (rest.prefix(2), rest.suffix(2))
        case (1, 1...2): (h, m) = (rest, "00")
        default: throw bad
        }
        func isDigits(_ s: Substring) -> Bool { s.utf8.allSatisfy { (0x30...0x39).contains($0) } }
        guard (1...2).contains(h.count), m.count == 2, isDigits(h), isDigits(m), let hours = Int(h), let minutes = Int(m),
            minutes < 60, minutes % 15 == 0, hours * 60 + minutes <= 14 * 60
        else { throw bad }
        return (sign == "-" ? -1 : 1) * (hours * 3600 + minutes * 60)
    }

    /// `seconds` east of UTC written `+08:00`.
    public static func formatUTCOffset(_ seconds: Int) -> String {
        let magnitude = abs(seconds) / 60
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(seconds < 0 ? "-" : "+")\(two(magnitude / 60)):\(two(magnitude % 60))"
    }

    /// The local day an instant falls on.
    public func day(of date: Date) -> Day {
        let local = HybridLogicalClock.millis(date) + Int64(utcOffsetSeconds) * 1000
        let q = local >= 0 ? local / 86_400_000 : (local - 86_399_999) / 86_400_000
        return Day(ordinal: q)
    }

    /// The instant a local day starts.
    public func start(of day: Day) -> Date {
        Date(timeIntervalSince1970: Double(day.ordinal * 86_400 - Int64(utcOffsetSeconds)))
    }

    /// The first recorded rain day after the day of `date` (estate-wide rain days only).
    public func firstRainDay(after date: Date) -> Day? {
        let from = day(of: date)
        return rainDays.filter { $0 > from }.min()
    }

    /// The first rain day recorded for `zone` after the day of `date`: rain on the day itself
    /// does not count (004 §三: the callback checks that the repair held through a rain).
    public func firstRainDay(after date: Date, in zone: Zone) -> Day? {
        let from = day(of: date)
        return rainDays(in: zone).filter { $0 > from }.min()
    }

    /// `date` plus `count` working days (Monday to Friday), keeping the time of day.
    public func addingWorkingDays(_ count: Int, to date: Date) -> Date {
        var result = date
        var remaining = count
        while remaining > 0 {
            result = result.addingTimeInterval(86_400)
            if day(of: result).weekday < 5 { remaining -= 1 }
        }
        return result
    }
}
