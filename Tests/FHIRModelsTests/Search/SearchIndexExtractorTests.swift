import FHIRModels
import FixtureSupport
import Foundation
import Testing

/// Index entries of the official examples, expected values read from the JSON directly.
@Suite struct SearchIndexExtractorTests {
    static let margin: TimeInterval = 14 * 3600

    static func example(_ name: String) throws -> JSONValue {
        try FHIRJSON.parse(Array(try Fixtures.data("hl7-examples/json/" + name)))
    }

    static func values(_ code: String, in entries: [SearchIndexEntry]) -> [SearchIndexValue] {
        entries.filter { $0.code == code }.map(\.value)
    }

    static func utcDay(_ text: String) throws -> Date {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        try #require(parts.count == 3)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return try #require(calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])))
    }

    /// A date-only text's span: that UTC day widened by 14 h each side.
    static func daySpan(_ text: String) throws -> SearchIndexValue {
        let start = try utcDay(text)
        return .date(low: start.addingTimeInterval(-margin), high: start.addingTimeInterval(86400 + margin))
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func patientExample() throws {
        let patient = try Self.example("patient-example.json")
        let extraction = SearchIndexExtractor().extract(patient)
        let entries = extraction.entries
        #expect(extraction.failures.isEmpty, "\(extraction.failures)")

        let families = Self.values("family", in: entries)
        #expect(families.contains(.string(normalized: "chalmers", exact: "Chalmers")))
        let jsonFamilies = (patient["name"]?.arrayValue ?? []).compactMap { $0["family"]?.stringValue }
        #expect(families.count == Set(jsonFamilies).count)

        let birthDate = try #require(patient["birthDate"]?.stringValue)
        #expect(Self.values("birthdate", in: entries) == [try Self.daySpan(birthDate)])
        #expect(birthDate == "1974-12-25")

        #expect(Self.values("gender", in: entries) == [.token(system: nil, code: patient["gender"]?.stringValue, display: nil)])
        #expect(Self.values("gender", in: entries) == [.token(system: nil, code: "male", display: nil)])

        #expect(Self.values("identifier", in: entries).contains(
            .token(system: "urn:oid:1.2.36.146.595.217.0.1", code: "12345", display: nil)))

        let telecom = (patient["telecom"]?.arrayValue ?? []).filter { $0["value"] != nil }
        let expectedTelecom = telecom.map {
            SearchIndexValue.token(system: $0["system"]?.stringValue, code: $0["value"]?.stringValue, display: nil)
        }
        #expect(!expectedTelecom.isEmpty)
        #expect(Self.values("telecom", in: entries) == expectedTelecom)
        let expectedPhones = expectedTelecom.filter { if case .token(system: "phone", _, _) = $0 { true } else { false } }
        #expect(Self.values("phone", in: entries) == expectedPhones)

        #expect(Self.values("address-city", in: entries) == [.string(normalized: "pleasantville", exact: "PleasantVille")])

        let practitioners = (patient["generalPractitioner"]?.arrayValue ?? []).compactMap { $0["reference"]?.stringValue }
        let expectedPractitioners: [SearchIndexValue] = practitioners.map { text in
            let parts = text.split(separator: "/").map(String.init)
            return .reference(type: parts[0], id: parts[1], url: nil)
        }
        #expect(Self.values("general-practitioner", in: entries) == expectedPractitioners)
        #expect(Self.values("_id", in: entries) == [.token(system: nil, code: patient["id"]?.stringValue, display: nil)])
        // Composite/special and expression-less parameters are reported, not indexed.
        #expect(extraction.skipped.contains { $0.code == "_text" && $0.reason == .noExpression })
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func observationExample() throws {
        let observation = try Self.example("observation-example.json")
        let extraction = SearchIndexExtractor().extract(observation)
        let entries = extraction.entries
        #expect(extraction.failures.isEmpty, "\(extraction.failures)")

        let codings = observation["code"]?["coding"]?.arrayValue ?? []
        let expectedCodes = codings.map {
            SearchIndexValue.token(system: $0["system"]?.stringValue, code: $0["code"]?.stringValue, display: $0["display"]?.stringValue)
        }
        #expect(Self.values("code", in: entries) == expectedCodes)
        #expect(Self.values("code", in: entries).contains { value in
            if case .token(system: "http://loinc.org", code: "29463-7", _) = value { true } else { false }
        })

        #expect(observation["subject"]?["reference"]?.stringValue == "Patient/example")
        #expect(Self.values("subject", in: entries) == [.reference(type: "Patient", id: "example", url: nil)])
        #expect(Self.values("patient", in: entries) == [.reference(type: "Patient", id: "example", url: nil)])

        let effective = try #require(observation["effectiveDateTime"]?.stringValue)
        #expect(Self.values("date", in: entries) == [try Self.daySpan(effective)])

        let quantity = try #require(observation["valueQuantity"])
        let lexical = try #require(quantity["value"]?.numberLexical)
        let value = try #require(Decimal(string: lexical))
        #expect(value == 185)
        #expect(Self.values("value-quantity", in: entries) == [.quantity(
            value: value, system: "http://unitsofmeasure.org", code: "[lb_av]", unit: quantity["unit"]?.stringValue)])
    }

    @Test func periodsReferencesAndMoney() throws {
        let encounter: JSONValue = .object([
            "resourceType": .string("Encounter"), "status": .string("finished"),
            "period": .object(["start": .string("2024-02-10T10:00:00Z")]),
            "subject": .object(["reference": .string("https://example.org/fhir/Patient/p-1/_history/3")]),
            "episodeOfCare": .array([.object(["reference": .string("EpisodeOfCare/e.1/_history/2")])]),
            "participant": .array([
                .object(["individual": .object(["reference": .string("#pr1")])]),
                .object(["individual": .object(["identifier": .object(["value": .string("X")])])]),
                .object(["individual": .object(["reference": .string("urn:uuid:0b8a4e2e-6a7b-4c8f-9d6c-1f1e2d3c4b5a")])]),
            ]),
        ])
        let entries = SearchIndexExtractor().entries(for: encounter)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let start = try #require(calendar.date(from: DateComponents(year: 2024, month: 2, day: 10, hour: 10)))
        #expect(Self.values("date", in: entries) == [.date(low: start, high: .distantFuture)])
        #expect(Self.values("subject", in: entries) == [
            .reference(type: "Patient", id: "p-1", url: "https://example.org/fhir/Patient/p-1/_history/3")])
        #expect(Self.values("patient", in: entries) == Self.values("subject", in: entries))
        // A logical (identifier-only) reference is indexed as a token, for `participant:identifier`.
        #expect(Self.values("participant", in: entries) == [
            .reference(type: nil, id: nil, url: "#pr1"),
            .token(system: nil, code: "X", display: nil),
            .reference(type: nil, id: nil, url: "urn:uuid:0b8a4e2e-6a7b-4c8f-9d6c-1f1e2d3c4b5a"),
        ])
        #expect(Self.values("episode-of-care", in: entries) == [.reference(type: "EpisodeOfCare", id: "e.1", url: nil)])
        #expect(Self.values("status", in: entries) == [.token(system: nil, code: "finished", display: nil)])

        let claim: JSONValue = .object([
            "resourceType": .string("ChargeItem"),
            "priceOverride": .object(["value": .number("12.50"), "currency": .string("EUR")]),
        ])
        #expect(Self.values("price-override", in: SearchIndexExtractor().entries(for: claim)) == [
            .quantity(value: Decimal(string: "12.5")!, system: "urn:iso:std:iso:4217", code: "EUR", unit: nil)])
        #expect(SearchIndexExtractor().entries(for: .object(["resourceType": .string("NotAType")])).isEmpty)
        #expect(SearchIndexExtractor().entries(for: .string("x")).isEmpty)
    }

    /// The compiled-expression cache is shared: concurrent first uses agree with a sequential run.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func concurrentExtractionAgrees() async throws {
        let resources = [try Self.example("patient-example.json"), try Self.example("observation-example.json"),
                         try Self.example("encounter-example.json")]
        let sequential = resources.map { SearchIndexExtractor().entries(for: $0) }
        let concurrent = await withTaskGroup(of: (Int, [SearchIndexEntry]).self) { group in
            for round in 0..<24 {
                let index = round % resources.count
                let resource = resources[index]
                group.addTask { (index, SearchIndexExtractor().entries(for: resource)) }
            }
            var results: [(Int, [SearchIndexEntry])] = []
            for await result in group { results.append(result) }
            return results
        }
        #expect(concurrent.count == 24)
        for (index, entries) in concurrent { #expect(entries == sequential[index]) }
        #expect(sequential.allSatisfy { !$0.isEmpty })
    }

    /// Every official example evaluates without a failing parameter and is indexed by its id.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func everyOfficialExampleIndexesWithoutFailures() throws {
        let files = Fixtures.files(in: "hl7-examples/json", withExtension: "json")
        try #require(files.count > Fixtures.expected(full: 100, vendored: 30))
        var failures: [String] = []
        for file in files {
            let resource = try FHIRJSON.parse(try Data(contentsOf: file))
            let extraction = SearchIndexExtractor().extract(resource)
            failures += extraction.failures.map { "\(file.lastPathComponent) \($0.code): \($0.reason)" }
            if let id = resource["id"]?.stringValue {
                #expect(Self.values("_id", in: extraction.entries) == [.token(system: nil, code: id, display: nil)],
                        "\(file.lastPathComponent)")
            }
        }
        print("Search index: \(files.count) official examples, \(failures.count) parameter failures: \(failures)")
        #expect(failures.count == 0, "\(failures)")
    }
}
