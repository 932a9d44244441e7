// SPDX-License-Identifier: Apache-2.0
// A point in time as whole seconds since the Unix epoch, with RFC 3339 UTC text and civil-date math.

#if canImport(Glibc)
import Glibc
#endif

/// A UTC point in time: whole seconds since 1970-01-01T00:00:00Z (proleptic Gregorian calendar, no
/// leap seconds, like POSIX `time_t`).
///
/// Certificates, CRLs, Intel collateral and the agent's state files all carry times to the second, so
/// nothing here keeps a fraction. The text forms are the ones the agent has always printed:
/// ``iso8601`` (`2026-12-01T21:31:00Z`) in files and JSON, ``description`` (`2026-12-01 21:31:00 +0000`)
/// in messages.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Seconds since 1970-01-01T00:00:00Z (negative before it).
    public var secondsSinceEpoch: Int64

    public init(secondsSinceEpoch: Int64) {
        self.secondsSinceEpoch = secondsSinceEpoch
    }

    /// The current time. Calls `clock_gettime(CLOCK_REALTIME)`.
    public static var now: Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(secondsSinceEpoch: Int64(spec.tv_sec))
    }

    /// 0001-01-01T00:00:00Z: earlier than any time a certificate or a file can name.
    public static let distantPast = Timestamp(secondsSinceEpoch: -62_135_596_800)

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.secondsSinceEpoch < rhs.secondsSinceEpoch
    }

    /// `self` moved by `seconds` (negative: earlier).
    public func adding(seconds: Int64) -> Timestamp {
        Timestamp(secondsSinceEpoch: secondsSinceEpoch + seconds)
    }

    public static func + (lhs: Timestamp, seconds: Int64) -> Timestamp { lhs.adding(seconds: seconds) }
    public static func - (lhs: Timestamp, seconds: Int64) -> Timestamp { lhs.adding(seconds: -seconds) }

    /// The seconds from `rhs` to `lhs`.
    public static func - (lhs: Timestamp, rhs: Timestamp) -> Int64 {
        lhs.secondsSinceEpoch - rhs.secondsSinceEpoch
    }
}

// MARK: Civil dates

extension Timestamp {
    /// A UTC calendar date and time of day.
    public struct Components: Sendable, Equatable {
        public var year: Int64
        public var month: Int
        public var day: Int
        public var hour: Int
        public var minute: Int
        public var second: Int

        public init(year: Int64, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
            self.year = year
            self.month = month
            self.day = day
            self.hour = hour
            self.minute = minute
            self.second = second
        }
    }

    /// The time of a UTC calendar date and time; nil when a field is out of range (month 13, February 30,
    /// hour 24, second 60, year outside 1...9999).
    public init?(_ civil: Components) {
        guard (1...9999).contains(civil.year), (1...12).contains(civil.month),
            (1...Timestamp.daysInMonth(civil.month, year: civil.year)).contains(civil.day),
            (0...23).contains(civil.hour), (0...59).contains(civil.minute), (0...59).contains(civil.second)
        else { return nil }
        let days = Timestamp.daysFromCivil(year: civil.year, month: Int64(civil.month), day: Int64(civil.day))
        self.init(
            secondsSinceEpoch: days * 86400 + Int64(civil.hour) * 3600 + Int64(civil.minute) * 60
                + Int64(civil.second))
    }

    /// `init(Components(...))` spelled out.
    public init?(year: Int64, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        self.init(Components(year: year, month: month, day: day, hour: hour, minute: minute, second: second))
    }

    /// The UTC calendar date and time of day.
    public var components: Components {
        let (days, remainder) = secondsSinceEpoch.quotientAndRemainder(dividingBy: 86400)
        // Floor division: a negative remainder belongs to the previous day.
        let day = remainder < 0 ? days - 1 : days
        let second = Int(remainder < 0 ? remainder + 86400 : remainder)
        let (year, month, dayOfMonth) = Timestamp.civilFromDays(day)
        return Components(
            year: year, month: Int(month), day: Int(dayOfMonth), hour: second / 3600, minute: second / 60 % 60,
            second: second % 60)
    }

    static func isLeapYear(_ year: Int64) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    static func daysInMonth(_ month: Int, year: Int64) -> Int {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146097 + dayOfEra - 719468
    }

    /// The proleptic Gregorian date `days` after 1970-01-01 (H. Hinnant's `civil_from_days`).
    static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let dayOfEra = z - era * 146097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

// MARK: Text

extension Timestamp {
    /// RFC 3339 in UTC, to the second: `2026-12-01T21:31:00Z`.
    public var iso8601: String {
        let c = components
        return Timestamp.pad(c.year, 4) + "-" + Timestamp.pad(Int64(c.month), 2) + "-" + Timestamp.pad(Int64(c.day), 2)
            + "T" + Timestamp.pad(Int64(c.hour), 2) + ":" + Timestamp.pad(Int64(c.minute), 2) + ":"
            + Timestamp.pad(Int64(c.second), 2) + "Z"
    }

    /// `2026-12-01 21:31:00 +0000`: the form messages have always shown a time in.
    public var description: String {
        let c = components
        return Timestamp.pad(c.year, 4) + "-" + Timestamp.pad(Int64(c.month), 2) + "-" + Timestamp.pad(Int64(c.day), 2)
            + " " + Timestamp.pad(Int64(c.hour), 2) + ":" + Timestamp.pad(Int64(c.minute), 2) + ":"
            + Timestamp.pad(Int64(c.second), 2) + " +0000"
    }

    /// Parses RFC 3339 / ISO 8601 extended date-time: `YYYY-MM-DDTHH:MM:SS`, an optional fraction
    /// (dropped: the time is kept to the second), then `Z` or a `±HH:MM` (or `±HHMM`) offset. Nil for
    /// anything else, including out-of-range fields (February 30, hour 24, second 60).
    public init?(iso8601 text: String) {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ count: Int) -> Int64? {
            guard index + count <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[index..<index + count] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            index += count
            return value
        }
        func literal(_ character: Unicode.Scalar) -> Bool {
            guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), literal("-"), let month = number(2), literal("-"), let day = number(2),
            literal("T"), let hour = number(2), literal(":"), let minute = number(2), literal(":"),
            let second = number(2)
        else { return nil }
        if literal(".") {
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            guard index > start else { return nil }
        }
        var offset: Int64 = 0
        if literal("Z") {
            offset = 0
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign: Int64 = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let hours = number(2) else { return nil }
            _ = literal(":")
            guard let minutes = number(2), hours <= 23, minutes <= 59 else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        guard index == bytes.count,
            let local = Timestamp(
                year: year, month: Int(month), day: Int(day), hour: Int(hour), minute: Int(minute),
                second: Int(second))
        else { return nil }
        self = local - offset
    }

    /// `value` in decimal, zero-padded to `width` digits (a sign comes first).
    static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value.magnitude)
        let padding = String(repeating: "0", count: max(0, width - digits.count))
        return (value < 0 ? "-" : "") + padding + digits
    }
}
