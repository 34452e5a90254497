import FHIRModels
import Foundation
import Testing
@testable import Server

/// The parser turns request parameters into typed conditions, and the compiled SQL carries
/// every request value as a bound parameter, never as SQL text.
@Suite struct SearchQueryParserTests {
    let parser = SearchQueryParser(baseURL: "http://example.org/fhir", strict: false, maxCount: 1000)

    func parse(_ type: String, _ items: [(String, String)]) throws -> SearchQuery {
        try parser.parse(types: [type], items: items.map { (key: $0.0, value: $0.1) })
    }

    @Test func badValuesAreClientErrorsNamingTheParameter() throws {
        for (key, value) in [
            ("birthdate", "1970-13-45"), ("birthdate", "xx1970"), ("birthdate", ""), ("_count", "-1"),
            ("_total", "maybe"), ("gender:foo", "male"), ("_sort", "_content"), ("subject", "Patient/bad id"),
            ("value-quantity", "abc"), ("_has:Observation:patient", "x"), ("_cursor", "not-a-cursor"),
        ] {
            let type = key == "value-quantity" || key == "subject" ? "Observation" : "Patient"
            let error = #expect(throws: SearchQueryError.self, "\(key)=\(value)") { try parse(type, [(key, value)]) }
            #expect(error?.parameter == key, "\(key)=\(value) names \(error?.parameter ?? "nothing")")
        }
    }

    @Test func unknownParametersAreIgnoredAndListedUnlessStrict() throws {
        let query = try parse("Patient", [("shoe-size", "42"), ("family", "Smith")])
        #expect(query.ignored == ["shoe-size"])
        #expect(query.targets[0].conditions.count == 1)
        var strict = parser
        strict.strict = true
        let error = #expect(throws: SearchQueryError.self) { try strict.parse(types: ["Patient"], items: [(key: "shoe-size", value: "42")]) }
        #expect(error?.code == .notSupported && error?.parameter == "shoe-size")
    }

    @Test func commaIsOrAndRepetitionIsAnd() throws {
        let query = try parse("Patient", [("family", "Smith,Jones"), ("family", "Sm")])
        #expect(query.targets[0].conditions.count == 2)
        guard case .string(_, let matches) = query.targets[0].conditions[0] else { Issue.record("not a string condition"); return }
        #expect(matches.map(\.value) == ["smith", "jones"])
    }

    @Test func escapedSeparatorsStayInTheValue() throws {
        let query = try parse("Patient", [("family", #"a\,b,c\|d\\"#)])
        guard case .string(_, let matches) = query.targets[0].conditions[0] else { Issue.record("not a string condition"); return }
        #expect(matches.map(\.value) == ["a,b", #"c|d\"#])
    }

    @Test func datePrefixesAndPartialDatesBecomeRanges() throws {
        let query = try parse("Patient", [("birthdate", "ge1970-05"), ("birthdate", "lt1971"), ("death-date", "1980,1990")])
        // Repeated single dates of one parameter become one range on the same index row.
        guard case .dateRange(_, let tests) = query.targets[0].conditions[0] else { Issue.record("not a date range"); return }
        #expect(tests.map(\.prefix) == [.ge, .lt])
        // 1970-05 without a zone covers May 1970 widened by 14 hours either side.
        #expect(tests[0].low == ISO8601DateFormatter().date(from: "1970-04-30T10:00:00Z"))
        #expect(tests[0].high == ISO8601DateFormatter().date(from: "1970-06-01T14:00:00Z"))
        guard case .date(_, let alternatives) = query.targets[0].conditions[1] else { Issue.record("not a date"); return }
        #expect(alternatives.count == 2)
    }

    @Test func numbersCarryTheirImpliedPrecision() throws {
        let query = try parse("Observation", [("value-quantity", "5.4|http://unitsofmeasure.org|mmol/L")])
        guard case .quantity(_, let tests) = query.targets[0].conditions[0] else { Issue.record("not a quantity"); return }
        #expect(tests[0].number.low == Decimal(string: "5.35"))
        #expect(tests[0].number.high == Decimal(string: "5.45"))
        #expect(tests[0].system == "http://unitsofmeasure.org")
        #expect(tests[0].code == "mmol/L")
    }

    @Test func chainsResolveTargetTypesAndStopAtTwoLevels() throws {
        let query = try parse("Observation", [("subject:Patient.name", "peter")])
        guard case .chain(_, let targets) = query.targets[0].conditions[0] else { Issue.record("not a chain"); return }
        #expect(targets.map(\.type) == ["Patient"])
        _ = try parse("Observation", [("encounter.subject:Patient.family", "x")])
        #expect(throws: SearchQueryError.self) { try parse("Observation", [("encounter.subject.organization.name", "x")]) }
    }

    @Test func referencesToThisServerAreLocalAndOthersAreURLs() throws {
        let query = try parse("Observation", [("subject", "http://example.org/fhir/Patient/123,http://other.org/fhir/Patient/9")])
        guard case .reference(_, let targets) = query.targets[0].conditions[0] else { Issue.record("not a reference"); return }
        #expect(targets[0].types == ["Patient"] && targets[0].id == "123")
        #expect(targets[1].id == nil && targets[1].url == "http://other.org/fhir/Patient/9")
    }

    @Test func requestValuesNeverReachTheSQLText() throws {
        let hostile = #"x'); DROP TABLE resource; --%_\"#
        let query = try parse("Patient", [
            ("family", hostile), ("family:contains", hostile), ("family:exact", hostile), ("identifier", "sys|" + hostile),
            ("general-practitioner:Practitioner.name", hostile), ("_has:Observation:patient:code", hostile),
        ])
        var sql = SearchSQL()
        let text = sql.pageStatement(query)
        #expect(!text.contains("DROP"))
        #expect(!text.contains(hostile))
        #expect(SearchSQL.likeEscaped("50%_a\\b") == #"50\%\_a\\b"#)
    }

    @Test func cursorsRoundTripAndRejectForgeries() throws {
        let cursor = SearchCursor(key: 42, values: ["2020-01-01 00:00:00+00", nil])
        #expect(SearchCursor(token: cursor.token, sortKeys: 2) == cursor)
        #expect(SearchCursor(token: cursor.token, sortKeys: 1) == nil)
        #expect(SearchCursor(token: "eyJ4IjoxfQ", sortKeys: 0) == nil)
    }
}
