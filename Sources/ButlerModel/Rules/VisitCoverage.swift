import Foundation

/// A calendar month in the estate's local time, `yyyy-MM`.
public struct EstateMonth: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let year: Int64
    /// 1…12.
    public let month: Int64

    public init(year: Int64, month: Int64) throws {
        guard (1...12).contains(month), (1...9999).contains(year) else { throw ModelError(.invalidValue, "no such month \(year)-\(month)") }
        self.year = year
        self.month = month
    }

    /// Parses `yyyy-MM`.
    public init(_ text: String) throws {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, let y = Int64(parts[0]), let m = Int64(parts[1]), (1...12).contains(m) else {
            throw ModelError(.invalidValue, "a month must be written yyyy-MM, got \"\(text)\"")
        }
        try self.init(year: y, month: m)
    }

    /// The month a local day falls in.
    public init(containing day: EstateCalendar.Day) {
        let (y, m, _) = Timestamp.civil(fromDays: day.ordinal)
        year = y
        month = m
    }

    /// The month `count` months later (earlier when negative).
    public func adding(months count: Int64) -> EstateMonth {
        let index = year * 12 + (month - 1) + count
        let y = index >= 0 ? index / 12 : (index - 11) / 12
        return EstateMonth(unchecked: y, index - y * 12 + 1)
    }

    private init(unchecked year: Int64, _ month: Int64) {
        self.year = year
        self.month = month
    }

    /// Its first local day.
    public var firstDay: EstateCalendar.Day { EstateCalendar.Day(ordinal: Timestamp.daysFromCivil(year, month, 1)) }

    /// Its last local day.
    public var lastDay: EstateCalendar.Day { EstateCalendar.Day(ordinal: adding(months: 1).firstDay.ordinal - 1) }

    public static func < (lhs: EstateMonth, rhs: EstateMonth) -> Bool { (lhs.year, lhs.month) < (rhs.year, rhs.month) }

    public var description: String { String(format: "%04lld-%02lld", year, month) }
}

/// How well each zone's occupied households were visited (001 §4.4.4): every month at least 10%
/// of the occupied households (已入住户数), and the whole zone within six months.
///
/// Computed from the resident records, never stored. Days and months are the estate's local ones
/// (the visit's `at` in the ``EstateCalendar``'s time zone), so a visit at 01:00 on the 1st, local
/// time, counts for the new month even though it is still the previous month in UTC.
///
/// Households, not profiles, are counted: profiles whose household names match once white space
/// is ignored (``Resident/householdKey(_:)``) are one household, their visits pooled. A household
/// is occupied when any of its profiles says so (or never said): it leaves the count only when
/// every profile marks it vacant. Visits to a vacant household count for nothing.
public struct VisitCoverage: Hashable, Sendable {
    /// The share of occupied households to visit each month, in percent (001 §4.4.4: 10%).
    public static let monthlyPercent: Int64 = 10
    /// The months within which every occupied household is visited (001 §4.4.4: half a year).
    public static let wholeZoneMonths: Int64 = 6

    /// One household as coverage sees it.
    public struct Household: Hashable, Sendable {
        /// The household as written in its first profile (by id).
        public let household: String
        /// The profiles of this household, by id.
        public let residents: [RecordID]
        /// Its latest visit up to the end of the month, if any.
        public let lastVisit: Date?

        public var jsonValue: JSONValue {
            [
                "household": .string(household), "residents": .array(residents.map { .string($0.rawValue) }),
                "lastVisit": lastVisit?.wire ?? .null,
            ]
        }
    }

    /// One zone's coverage in a month.
    public struct ZoneCoverage: Hashable, Sendable {
        public let zone: Zone
        /// Occupied households (已入住户数).
        public let occupiedHouseholds: Int64
        /// Occupied households visited in the month.
        public let visitedThisMonth: Int64
        /// The least number to visit in the month: 10% of the occupied households, rounded up.
        public let monthlyTarget: Int64
        /// Occupied households visited in the six months ending with this one.
        public let visitedSixMonths: Int64
        /// Occupied households not visited in those six months, by household.
        public let notVisited: [Household]

        public var monthlyTargetMet: Bool { visitedThisMonth >= monthlyTarget }
        /// Target: every occupied household.
        public var sixMonthTarget: Int64 { occupiedHouseholds }
        public var sixMonthTargetMet: Bool { visitedSixMonths >= occupiedHouseholds }

        /// `part` as a whole percentage of the occupied households, rounded down (100 when there are none).
        func percent(_ part: Int64) -> Int64 { occupiedHouseholds == 0 ? 100 : part * 100 / occupiedHouseholds }

        public var jsonValue: JSONValue {
            [
                "zone": .string(zone.rawValue), "occupiedHouseholds": .int(occupiedHouseholds),
                "visitedThisMonth": .int(visitedThisMonth), "visitedThisMonthPercent": .int(percent(visitedThisMonth)),
                "monthlyTarget": .int(monthlyTarget), "monthlyTargetMet": .bool(monthlyTargetMet),
                "visitedSixMonths": .int(visitedSixMonths), "visitedSixMonthsPercent": .int(percent(visitedSixMonths)),
                "sixMonthTarget": .int(sixMonthTarget), "sixMonthTargetMet": .bool(sixMonthTargetMet),
                "notVisitedSixMonths": .array(notVisited.map(\.jsonValue)),
            ]
        }
    }

    public let month: EstateMonth
    /// The first month of the six-month window (this month and the five before).
    public var windowStart: EstateMonth { month.adding(months: -(Self.wholeZoneMonths - 1)) }
    public let zones: [ZoneCoverage]

    /// The coverage of `month` for each of `zones` (every zone the residents are in, when `nil`),
    /// by zone name.
    public init(residents: [Resident], month: EstateMonth, calendar: EstateCalendar, zones: Set<Zone>? = nil) {
        self.month = month
        let window = month.adding(months: -(Self.wholeZoneMonths - 1)).firstDay...month.lastDay
        let thisMonth = month.firstDay...month.lastDay
        let byZone = Dictionary(grouping: residents.filter { zones?.contains($0.zone) ?? true }, by: \.zone)
        let names = (zones ?? Set(byZone.keys)).sorted()
        self.zones = names.map { zone in
            let households = Dictionary(grouping: byZone[zone] ?? [], by: { Resident.householdKey($0.household ?? $0.id.rawValue) })
            var occupied: Int64 = 0
            var visitedMonth: Int64 = 0
            var visitedWindow: Int64 = 0
            var notVisited: [Household] = []
            for (_, profiles) in households {
                guard profiles.contains(where: \.occupied) else { continue }
                occupied += 1
                let days = profiles.flatMap(\.visits).map { calendar.day(of: $0.at) }
                if days.contains(where: thisMonth.contains) { visitedMonth += 1 }
                if days.contains(where: window.contains) {
                    visitedWindow += 1
                } else {
                    let sorted = profiles.sorted { $0.id < $1.id }
                    notVisited.append(Household(
                        household: sorted[0].household ?? "", residents: sorted.map(\.id),
                        lastVisit: profiles.flatMap(\.visits).map(\.at).filter { calendar.day(of: $0) <= month.lastDay }.max()))
                }
            }
            return ZoneCoverage(
                zone: zone, occupiedHouseholds: occupied, visitedThisMonth: visitedMonth,
                monthlyTarget: (occupied * Self.monthlyPercent + 99) / 100, visitedSixMonths: visitedWindow,
                notVisited: notVisited.sorted { ($0.household, $0.residents.first?.rawValue ?? "") < ($1.household, $1.residents.first?.rawValue ?? "") })
        }
    }

    public var jsonValue: JSONValue {
        [
            "month": .string(month.description), "sixMonthsFrom": .string(windowStart.description),
            "monthlyPercentTarget": .int(Self.monthlyPercent), "zones": .array(zones.map(\.jsonValue)),
        ]
    }
}
