import Foundation
import Testing
@testable import Server

/// The hand-written date and number formatting of the pages (Foundation's formatters built an
/// ICU formatter per value, most of a chart page's time), checked against Foundation itself.
@Suite struct WebFormatTests {
    @Test func dateTimesAreShownInUTCAndZonelessTimesStayDates() {
        #expect(WebFormat.dateTime("2026-12-05T14:30:00+02:00") == "5 Dec 2026, 12:30 UTC")
        #expect(WebFormat.dateTime("2026-12-05T23:30:00-05:00") == "6 Dec 2026, 04:30 UTC")
        #expect(WebFormat.dateTime("2000-02-29T00:00:59.999Z") == "29 Feb 2000, 00:00 UTC")
        #expect(WebFormat.dateTime("1969-12-31T23:59:59Z") == "31 Dec 1969, 23:59 UTC")
        #expect(WebFormat.dateTime("2020-01-01T10:00:00") == "1 Jan 2020")
        #expect(WebFormat.dateTime("2020-03") == "Mar 2020")
        #expect(WebFormat.dateTime("not a dateTime at all") == "not a dateTime at all")
    }

    /// Every instant agrees with Foundation's Gregorian calendar in UTC, 1800 to 2200.
    @Test func instantsAgreeWithFoundationsCalendar() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var generator = SystemRandomNumberGenerator()
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        for _ in 0..<5_000 {
            let instant = Date(timeIntervalSince1970: Double.random(in: -5_364_662_400...7_258_118_400, using: &generator).rounded(.down))
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: instant)
            let expected = "\(c.day!) \(months[c.month! - 1]) \(c.year!), "
                + String(format: "%02d:%02d", c.hour!, c.minute!) + " UTC"
            #expect(WebFormat.dateTime(instant) == expected, "\(instant.timeIntervalSince1970)")
        }
    }

    @Test func fixedDecimalsMatchPrintf() {
        #expect(WebFormat.fixed(77.85258448030889, digits: 2) == "77.85")
        #expect(WebFormat.fixed(-0.004, digits: 2) == "0.00")
        #expect(WebFormat.fixed(-12.345678, digits: 1) == "-12.3")
        #expect(WebFormat.fixed(120, digits: 0) == "120")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let value = Double.random(in: -5_000...5_000, using: &generator)
            for digits in 0...2 {
                // printf writes "-0.00" for small negatives; the pages show "0.00".
                var expected = String(format: "%.\(digits)f", value)
                if expected.hasPrefix("-"), expected.dropFirst().allSatisfy({ $0 == "0" || $0 == "." }) { expected.removeFirst() }
                #expect(WebFormat.fixed(value, digits: digits) == expected, "\(value) \(digits)")
            }
        }
    }
}
