import FHIRModels
import FixtureSupport
import Foundation
import Testing

/// The extractor over every resource of the Synthea bundles: nothing crashes, Patients' birth
/// dates and family names are indexed as their JSON says, and parameter failures are known.
@Suite struct SearchIndexSyntheaTests {
    /// Evaluation failures over the whole sweep, as "Type.code" → resources failing. Update
    /// deliberately when the evaluator or the data changes.
    static let expectedFailures: [String: Int] = [:]

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func everySyntheaResourceIsIndexed() throws {
        let files = Fixtures.files(in: "synthea", withExtension: "json")
        try #require(!files.isEmpty)
        let extractor = SearchIndexExtractor()
        var resources = 0, entryCount = 0, patients = 0
        var failures: [String: Int] = [:]
        var skippedByDesign = 0
        var elapsed = Duration.zero
        let clock = ContinuousClock()
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        for file in files {
            let bundle = try FHIRJSON.parse(try Data(contentsOf: file))
            for entry in bundle["entry"]?.arrayValue ?? [] {
                guard let resource = entry["resource"], let type = resource["resourceType"]?.stringValue else { continue }
                var extraction: SearchIndexExtraction?
                elapsed += clock.measure { extraction = extractor.extract(resource) }
                let result = try #require(extraction)
                resources += 1
                entryCount += result.entries.count
                #expect(!result.entries.isEmpty, "\(type) has entries")
                for failure in result.failures { failures["\(type).\(failure.code)", default: 0] += 1 }
                skippedByDesign += result.skipped.count - result.failures.count
                guard type == "Patient" else { continue }
                patients += 1
                try checkPatient(resource, result.entries, calendar: calendar)
            }
        }
        let perResource = resources > 0 ? elapsed / resources : .zero
        print("Synthea index sweep: \(files.count) bundles, \(resources) resources, \(patients) patients, \(entryCount) entries, "
              + "\(elapsed) extracting, \(perResource) per resource (debug build)")
        let failureList = failures.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        print("Synthea index sweep: \(skippedByDesign) parameter evaluations skipped by design (composite, special, no expression)")
        print("Synthea index sweep failures (\(failures.values.reduce(0, +))): \(failureList)")
        #expect(patients == files.count, "one Patient per Synthea bundle")
        #expect(failures == Self.expectedFailures, "\(failureList)")
    }

    /// No R4 parameter of any resource type fails to compile; the by-design skips are exactly
    /// the composite and special kinds and the expression-less definitions.
    @Test func everyParameterCompilesOrIsSkippedByDesign() {
        var compileFailures: [String] = []
        var byDesign = 0, parameters = 0
        for type in FHIRMetadata.resourceTypeNames {
            let definitions = SearchParameterDefinitions.parameters(for: type)
            parameters += definitions.count
            let expectedByDesign = definitions.filter { $0.kind == .composite || $0.kind == .special || $0.expression == nil }
            let skipped = SearchIndexExtractor.skippedParameters(for: type)
            for skip in skipped where skip.isFailure { compileFailures.append("\(type).\(skip.code): \(skip.reason)") }
            byDesign += skipped.count - skipped.filter(\.isFailure).count
            #expect(Set(skipped.filter { !$0.isFailure }.map(\.code)) == Set(expectedByDesign.map(\.code)), "\(type)")
        }
        print("Search index: \(parameters) parameters over all resource types, \(byDesign) skipped by design, "
              + "\(compileFailures.count) failing to compile: \(compileFailures)")
        #expect(parameters > 2000)
        #expect(compileFailures.count == 0, "\(compileFailures)")
    }

    /// `birthdate` is the birthDate's UTC day widened by 14 h each side; `family` is each
    /// distinct `name[].family`, folded with Foundation rather than the code under test.
    private func checkPatient(_ patient: JSONValue, _ entries: [SearchIndexEntry], calendar: Calendar) throws {
        let birthDate = try #require(patient["birthDate"]?.stringValue)
        let parts = birthDate.split(separator: "-").compactMap { Int($0) }
        try #require(parts.count == 3)
        let day = try #require(calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])))
        let margin: TimeInterval = 14 * 3600
        #expect(entries.filter { $0.code == "birthdate" }.map(\.value)
            == [.date(low: day.addingTimeInterval(-margin), high: day.addingTimeInterval(86400 + margin))])

        var expectedFamilies: [String] = []
        for name in patient["name"]?.arrayValue ?? [] {
            guard let family = name["family"]?.stringValue else { continue }
            let folded = family.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: Locale(identifier: "en_US_POSIX"))
                .lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
            if !expectedFamilies.contains(folded) { expectedFamilies.append(folded) }
        }
        try #require(!expectedFamilies.isEmpty)
        let indexed = entries.filter { $0.code == "family" }.compactMap { entry -> String? in
            if case .string(let normalized, _) = entry.value { return normalized }
            return nil
        }
        #expect(Set(indexed) == Set(expectedFamilies))
    }
}
