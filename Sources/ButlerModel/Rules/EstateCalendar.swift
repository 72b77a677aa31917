import Foundation

/// The estate's local calendar: its time zone, working days and the rain days it recorded.
///
/// Deadlines that speak of days ("the first rainy day", "one working day") are counted in the
/// estate's local time, not UTC. The default zone is China Standard Time.
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

    /// Seconds east of UTC (China Standard Time: +8 h, no daylight saving).
    public let utcOffsetSeconds: Int
    public let rainDays: Set<Day>

    public init(utcOffsetSeconds: Int = 8 * 3600, rainDays: Set<Day> = []) {
        self.utcOffsetSeconds = utcOffsetSeconds
        self.rainDays = rainDays
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

    /// The first recorded rain day after the day of `date`.
    public func firstRainDay(after date: Date) -> Day? {
        let from = day(of: date)
        return rainDays.filter { $0 > from }.min()
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
