// SPDX-License-Identifier: Apache-2.0
// Timestamp: civil-date math, RFC 3339 text both ways, and the message form.

import AgentBase
import Testing

@Suite("Timestamp")
struct TimestampTests {
    @Test(
        "calendar dates map to the POSIX seconds of `date -u -d ... +%s`",
        arguments: [
            ("1970-01-01T00:00:00Z", Int64(0)),
            ("1969-12-31T23:59:59Z", -1),
            ("2000-02-29T12:00:00Z", 951_825_600),  // leap day of a year divisible by 400
            ("2024-02-29T00:00:00Z", 1_709_164_800),  // leap day of an ordinary leap year
            ("2023-06-08T07:27:52Z", 1_686_209_272),  // Intel's PCK CRL thisUpdate (corpus)
            ("2038-01-19T03:14:08Z", 2_147_483_648),  // one second past 32-bit time_t
            ("1950-01-01T00:00:00Z", -631_152_000),  // first UTCTime year (RFC 5280)
            ("2049-12-31T23:59:59Z", 2_524_607_999),  // last UTCTime second
            ("2050-01-01T00:00:00Z", 2_524_608_000),  // first GeneralizedTime year in certificates
            ("9999-12-31T23:59:59Z", 253_402_300_799),  // RFC 5280's "no well-defined expiration"
            ("0001-01-01T00:00:00Z", -62_135_596_800),
        ])
    func knownSeconds(text: String, seconds: Int64) throws {
        let time = try #require(Timestamp(iso8601: text))
        #expect(time.secondsSinceEpoch == seconds)
        #expect(time.iso8601 == text)
        #expect(Timestamp(secondsSinceEpoch: seconds).iso8601 == text)
    }

    @Test(
        "every day from 1600 to 2400 round-trips through the calendar, and February has 29 days exactly in leap years")
    func everyDay() throws {
        var expected = try #require(Timestamp(year: 1600, month: 1, day: 1)).secondsSinceEpoch
        for year in Int64(1600)...2400 {
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            #expect((Timestamp(year: year, month: 2, day: 29) != nil) == leap, "\(year)")
            for month in 1...12 {
                for day in 1...31 {
                    guard let time = Timestamp(year: year, month: month, day: day, hour: 23, minute: 59, second: 59)
                    else { continue }
                    #expect(time.secondsSinceEpoch == expected + 86399)
                    let civil = time.components
                    #expect(
                        civil
                            == Timestamp.Components(
                                year: year, month: month, day: day, hour: 23, minute: 59, second: 59))
                    expected += 86400
                }
            }
        }
        #expect(expected == Timestamp(year: 2401, month: 1, day: 1)?.secondsSinceEpoch)
    }

    @Test("offsets and fractions are accepted and normalised to UTC whole seconds")
    func offsets() {
        #expect(Timestamp(iso8601: "2026-12-01T22:31:00+01:00")?.iso8601 == "2026-12-01T21:31:00Z")
        #expect(Timestamp(iso8601: "2026-12-01T22:31:00+0100")?.iso8601 == "2026-12-01T21:31:00Z")
        #expect(Timestamp(iso8601: "2026-12-01T16:01:00-05:30")?.iso8601 == "2026-12-01T21:31:00Z")
        #expect(Timestamp(iso8601: "2026-12-31T23:30:00-01:00")?.iso8601 == "2027-01-01T00:30:00Z")
        #expect(Timestamp(iso8601: "2026-12-01T21:31:00.999Z")?.iso8601 == "2026-12-01T21:31:00Z")
    }

    @Test(
        "malformed or out-of-range text is refused, not rolled over",
        arguments: [
            "", "2026-12-01", "2026-12-01T21:31:00", "2026-12-01 21:31:00Z", "2026-12-01t21:31:00z",
            "2026-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z",
            "2026-00-10T00:00:00Z", "2026-12-00T00:00:00Z", "2026-12-01T24:00:00Z", "2026-12-01T23:60:00Z",
            "2026-12-01T23:59:60Z", "2026-12-01T21:31:00.Z", "2026-12-01T21:31:00+1:00", "2026-12-01T21:31:00+24:00",
            "2026-12-01T21:31:00Zjunk", "0000-01-01T00:00:00Z", "+2026-12-01T21:31:00Z", "２026-12-01T21:31:00Z",
            "2026-1２-01T21:31:00Z",
        ])
    func refused(text: String) {
        #expect(Timestamp(iso8601: text) == nil)
    }

    @Test("messages show a time as Foundation's Date did: 2026-12-01 21:31:00 +0000")
    func description() {
        #expect("\(Timestamp(secondsSinceEpoch: 1_796_160_660))" == "2026-12-01 21:31:00 +0000")
        #expect("\(Timestamp.distantPast)" == "0001-01-01 00:00:00 +0000")
    }

    @Test("comparison and arithmetic are in whole seconds")
    func arithmetic() throws {
        let time = try #require(Timestamp(iso8601: "2024-02-28T23:59:59Z"))
        #expect((time + 1).iso8601 == "2024-02-29T00:00:00Z")
        #expect((time + 86401).iso8601 == "2024-03-01T00:00:00Z")
        #expect((time - 59 * 86400).iso8601 == "2023-12-31T23:59:59Z")
        #expect((time + 60) - time == 60)
        #expect(time < time + 1 && !(time < time))
        #expect(Timestamp.distantPast < time)
        // The clock: after this code was written, and before the 64-bit rollover of anything.
        #expect(Timestamp.now > Timestamp(secondsSinceEpoch: 1_796_000_000))
    }
}

@Suite("Text search")
struct TextSearchTests {
    @Test("finds a substring anywhere, and only a real one")
    func containsText() {
        #expect("cipher_null-ecb".containsText("null"))
        #expect("aes-xts-plain64".containsText("aes-xts-plain64"))
        #expect("CN=SEV-VCEK,O=AMD".containsText("SEV-VCEK"))
        #expect("xxnulnull".containsText("null"))
        #expect("anything".containsText(""))
        #expect(!"aes-xts-plain64".containsText("null"))
        #expect(!"nul".containsText("null"))
        #expect(!"".containsText("a"))
        #expect("O=ccagent simulator (SIMULATED)"[...].containsText("SIMULATED"))
    }
}
