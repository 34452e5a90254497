@testable import FHIRModels
import Foundation
import Testing

/// Date spans and string folding, with expected values computed by `Calendar` and Foundation's
/// own folding rather than by the code under test.
@Suite struct SearchIndexValueTests {
    static let margin: TimeInterval = 14 * 3600

    static func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, _ second: Int = 0) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second))!
    }

    static func range(_ text: String) throws -> (low: Date, high: Date) {
        try #require(SearchIndexValue.dateRange(text), "\(text) parses")
    }

    @Test func partialDatesCoverTheirWholeSpanWidenedForUnknownZone() throws {
        let year = try Self.range("2024")
        #expect(year.low == Self.utc(2024, 1, 1).addingTimeInterval(-Self.margin))
        #expect(year.high == Self.utc(2025, 1, 1).addingTimeInterval(Self.margin))

        let february = try Self.range("2024-02")
        #expect(february.low == Self.utc(2024, 2, 1).addingTimeInterval(-Self.margin))
        #expect(february.high == Self.utc(2024, 3, 1).addingTimeInterval(Self.margin))
        // Leap year: 29 days plus the margins.
        #expect(february.high.timeIntervalSince(february.low) == 29 * 86400 + 2 * Self.margin)

        let day = try Self.range("2024-02-10")
        #expect(day.low == Self.utc(2024, 2, 10).addingTimeInterval(-Self.margin))
        #expect(day.high == Self.utc(2024, 2, 11).addingTimeInterval(Self.margin))
        let december = try Self.range("2023-12")
        #expect(december.high == Self.utc(2024, 1, 1).addingTimeInterval(Self.margin))
    }

    @Test func dateTimesWithZoneAreExactToTheirPrecision() throws {
        let second = try Self.range("2024-02-10T10:00:00Z")
        #expect(second.low == Self.utc(2024, 2, 10, 10))
        #expect(second.high == Self.utc(2024, 2, 10, 10, 0, 1))

        let offset = try Self.range("2024-02-10T10:00:00+02:00")
        #expect(offset.low == Self.utc(2024, 2, 10, 8))
        #expect(offset.high == Self.utc(2024, 2, 10, 8, 0, 1))
        let west = try Self.range("2024-02-10T23:30:00-05:00")
        #expect(west.low == Self.utc(2024, 2, 11, 4, 30))

        let fraction = try Self.range("2024-02-10T10:00:00.5Z")
        #expect(abs(fraction.low.timeIntervalSince(Self.utc(2024, 2, 10, 10)) - 0.5) < 1e-6)
        #expect(abs(fraction.high.timeIntervalSince(fraction.low) - 0.1) < 1e-6)

        let zoneless = try Self.range("2024-02-10T10:00:00")
        #expect(zoneless.low == Self.utc(2024, 2, 10, 10).addingTimeInterval(-Self.margin))
        #expect(zoneless.high == Self.utc(2024, 2, 10, 10, 0, 1).addingTimeInterval(Self.margin))
    }

    @Test(arguments: ["", "24", "2024-13", "2023-02-29", "2024-02-30", "2024-1-05", "2024-02-10T25:00:00Z",
                      "2024-02-10T10:00:00+15:00", "2024-02-10T10:00:00Zjunk", "2024-02-10 10:00:00Z", "2024-02-10T10:00:00."])
    func malformedDatesGiveNoRange(text: String) {
        #expect(SearchIndexValue.dateRange(text) == nil)
    }

    @Test func stringsFoldCaseAccentsAndWhitespace() {
        #expect(SearchIndexValue.normalizedString("Müller") == SearchIndexValue.normalizedString("MULLER"))
        #expect(SearchIndexValue.normalizedString("Schäfer") == "schafer")
        #expect(SearchIndexValue.normalizedString("  Anne \t  Marie\n") == "anne marie")
        #expect(SearchIndexValue.normalizedString("Ｆｕｌｌ") == "full")  // NFKD: fullwidth letters
        #expect(SearchIndexValue.normalizedString("Müller") != SearchIndexValue.normalizedString("Miller"))
        // Independent check: Foundation's own case and diacritic folding agrees on Latin names.
        for name in ["Zoë", "José", "Ångström", "Chalmers"] {
            let folded = name.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: Locale(identifier: "en_US_POSIX"))
            #expect(SearchIndexValue.normalizedString(name) == folded.lowercased(), "\(name)")
        }
        #expect(SearchIndexValue.string("Müller") == .string(normalized: "muller", exact: "Müller"))
    }

    /// The ASCII fast path (issue 16: string folding was 7 % of an import's indexing) folds
    /// exactly as the general path: every ASCII character, whitespace runs and case.
    @Test func asciiFoldingEqualsTheGeneralFolding() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = (0..<128).map { Character(Unicode.Scalar(UInt8($0))) }
        var samples = ["", " ", "\t\n", "  Anne \t  Marie\n", "O'Brien-SMITH 3rd", "\u{0B}x\u{0C}y\u{1C}z"]
        for _ in 0..<2_000 {
            samples.append(String((0..<Int.random(in: 0...24, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }))
        }
        for sample in samples {
            #expect(SearchIndexValue.normalizedASCII(sample) == SearchIndexValue.normalizedUnicode(sample), "\(Array(sample.utf8))")
        }
        #expect(SearchIndexValue.normalizedASCII("Müller") == nil, "non-ASCII takes the general path")
    }
}
