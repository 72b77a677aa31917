import Foundation

/// The one time format on the wire: UTC with milliseconds, `2026-11-23T08:30:00.000Z`.
///
/// A fixed format keeps canonical encodings identical across replicas; ``parseLenient(_:)``
/// accepts what people type (no fraction, or an offset like `+08:00`) at the edges.
public enum Timestamp {
    /// Formats `date` (rounded down to the millisecond) in the canonical form.
    public static func format(_ date: Date) -> String {
        let totalMillis = HybridLogicalClock.millis(date)
        let (days, msOfDay) = floorDivide(totalMillis, 86_400_000)
        let (y, m, d) = civil(fromDays: days)
        let h = msOfDay / 3_600_000
        let mi = msOfDay / 60_000 % 60
        let s = msOfDay / 1000 % 60
        let ms = msOfDay % 1000
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)).\(pad(ms, 3))Z"
    }

    /// Parses the canonical form only; `nil` for anything else.
    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count == 24, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54, b[13] == 0x3A, b[16] == 0x3A, b[19] == 0x2E, b[23] == 0x5A
        else { return nil }
        func num(_ range: Range<Int>) -> Int64? {
            var v: Int64 = 0
            for i in range {
                guard (0x30...0x39).contains(b[i]) else { return nil }
                v = v * 10 + Int64(b[i] - 0x30)
            }
            return v
        }
        guard let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10), let h = num(11..<13), let mi = num(14..<16),
            let s = num(17..<19), let ms = num(20..<23), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 60
        else { return nil }
        let days = daysFromCivil(y, mo, d)
        guard civil(fromDays: days) == (y, mo, d) else { return nil }  // 2026-02-30 and the like
        let millis = ((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms
        return Date(timeIntervalSince1970: Double(millis) / 1000)
    }

    /// Parses ISO 8601 as people write it: with or without fractional seconds, `Z` or an offset.
    public static func parseLenient(_ text: String) -> Date? {
        if let date = parse(text) { return date }
        for options in [ISO8601DateFormatter.Options.withInternetDateTime, [.withInternetDateTime, .withFractionalSeconds]] {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        let q = a >= 0 ? a / b : (a - b + 1) / b
        return (q, a - q * b)
    }

    /// Howard Hinnant's days-from-civil (proleptic Gregorian, days since 1970-01-01).
    static func daysFromCivil(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
