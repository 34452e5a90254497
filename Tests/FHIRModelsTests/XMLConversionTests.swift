import FixtureSupport
import Foundation
import Testing
@testable import FHIRModels

/// JSON <-> XML conversion checked against HL7's official example pairs, Synthea
/// bundles and bulk NDJSON, and the official XML schema.
@Suite("XML conversion")
struct XMLConversionTests {
    /// The two official files of `observation-decimal` write the same decimals with
    /// different lexical forms (e.g. `1.0e-24` in XML), so its numbers compare by value.
    static let numericDecimalExamples: Set<String> = ["observation-decimal"]

    static var pairNames: [String] {
        Fixtures.files(in: "hl7-examples/json", withExtension: "json").map { $0.deletingPathExtension().lastPathComponent }
    }

    static func describe(_ error: any Error) -> String {
        guard let error = error as? FHIRFormatError else { return "\(error)" }
        return "\(error.kind): \(error) at \(error.expression ?? "-")"
    }

    private static func bytes(_ url: URL) throws -> [UInt8] {
        Array(try Data(contentsOf: url))
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func officialPairsAreComplete() {
        let json = Set(Self.pairNames)
        let xml = Set(Fixtures.files(in: "hl7-examples/xml", withExtension: "xml").map { $0.deletingPathExtension().lastPathComponent })
        #expect(json.count == Fixtures.expected(full: 161, vendored: 32))
        #expect(json == xml)
    }

    /// (a) JSON -> XML gives the official XML, compared as trees.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func officialJSONBecomesOfficialXML() throws {
        var failures: [String] = []
        for name in Self.pairNames {
            let json = try FHIRJSON.parse(Self.bytes(Fixtures.url("hl7-examples/json/\(name).json")))
            let expected = try XMLTestTree(parsing: Self.bytes(Fixtures.url("hl7-examples/xml/\(name).xml")))
            let numeric = Self.numericDecimalExamples.contains(name)
            do {
                let produced = try XMLTestTree(parsing: FHIRXMLWriter.document(for: json))
                if let difference = produced.difference(from: expected, numericValues: numeric) { failures.append("\(name): \(difference)") }
                let pretty = try XMLTestTree(parsing: FHIRXMLWriter.document(for: json, pretty: true))
                if let difference = pretty.difference(from: expected, numericValues: numeric) { failures.append("\(name) (pretty): \(difference)") }
            } catch {
                failures.append("\(name): \(Self.describe(error))")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(Self.pairNames.count) differ:\n\(failures.joined(separator: "\n"))")
    }

    /// (b) XML -> JSON gives the official JSON, compared as trees.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func officialXMLBecomesOfficialJSON() throws {
        var failures: [String] = []
        for name in Self.pairNames {
            let expected = try FHIRJSON.parse(Self.bytes(Fixtures.url("hl7-examples/json/\(name).json")))
            do {
                let produced = try FHIRXMLReader.resource(from: Self.bytes(Fixtures.url("hl7-examples/xml/\(name).xml")))
                let numeric = Self.numericDecimalExamples.contains(name)
                if let difference = FHIRJSONComparison.difference(produced, expected, numericDecimals: numeric) {
                    failures.append("\(name): \(difference)")
                }
                // What we read serializes to JSON that the strict parser accepts again.
                let reparsed = try FHIRJSON.parse(FHIRJSON.serialize(produced))
                if !reparsed.isEquivalent(to: produced) { failures.append("\(name): JSON does not survive serialization") }
            } catch {
                failures.append("\(name): \(Self.describe(error))")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(Self.pairNames.count) differ:\n\(failures.joined(separator: "\n"))")
    }

    /// Narrative read from XML is serialized the way HL7's own tools wrote the official
    /// JSON, so the strings are identical, not only the trees.
    static let narrativeStringExceptions: [String: String] = [
        "document-example-dischargesummary": "HL7 writes an empty <td/>; we write <td></td>, which HTML parsers also read right",
    ]

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func narrativeStringsMatchHL7() throws {
        func divs(_ value: JSONValue, into result: inout [String]) {
            switch value {
            case .object(let object):
                for (key, member) in object {
                    if key == "div", let div = member.stringValue { result.append(div) } else { divs(member, into: &result) }
                }
            case .array(let items):
                for item in items { divs(item, into: &result) }
            default:
                break
            }
        }
        var total = 0
        var differing: Set<String> = []
        for name in Self.pairNames {
            var expected: [String] = []
            var produced: [String] = []
            divs(try FHIRJSON.parse(Self.bytes(Fixtures.url("hl7-examples/json/\(name).json"))), into: &expected)
            divs(try FHIRXMLReader.resource(from: Self.bytes(Fixtures.url("hl7-examples/xml/\(name).xml"))), into: &produced)
            #expect(expected.count == produced.count, "\(name)")
            total += expected.count
            if expected != produced { differing.insert(name) }
        }
        #expect(total == Fixtures.expected(full: 378, vendored: 58))
        #expect(differing == Set(Self.narrativeStringExceptions.keys))
    }

    /// The decimals of the documented exception really are the same numbers, and differ only lexically.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func observationDecimalDiffersOnlyLexically() throws {
        #expect(FHIRJSONComparison.canonicalNumber("1.0e0") == FHIRJSONComparison.canonicalNumber("1"))
        #expect(FHIRJSONComparison.canonicalNumber("1.000000000000000000e-245") == FHIRJSONComparison.canonicalNumber("1E-245"))
        #expect(FHIRJSONComparison.canonicalNumber("-0.00120") == "-12e-4")
        #expect(FHIRJSONComparison.canonicalNumber("1.1") != FHIRJSONComparison.canonicalNumber("1.0"))
        #expect(FHIRJSONComparison.canonicalNumber("1e-245") != FHIRJSONComparison.canonicalNumber("1e-246"))
        let expected = try FHIRJSON.parse(Self.bytes(Fixtures.url("hl7-examples/json/observation-decimal.json")))
        let produced = try FHIRXMLReader.resource(from: Self.bytes(Fixtures.url("hl7-examples/xml/observation-decimal.xml")))
        #expect(FHIRJSONComparison.difference(produced, expected) != nil, "lexical forms differ between the official files")
        #expect(FHIRJSONComparison.difference(produced, expected, numericDecimals: true) == nil)
        let xml = try XMLTestTree(parsing: FHIRXMLWriter.document(for: expected))
        let official = try XMLTestTree(parsing: Self.bytes(Fixtures.url("hl7-examples/xml/observation-decimal.xml")))
        #expect(xml.difference(from: official) != nil)
        #expect(xml.difference(from: official, numericValues: true) == nil)
    }

    /// The official JSON survives JSON -> XML -> JSON (narrative compared as XHTML trees:
    /// a div written from XML is re-serialized, so its string may differ in layout).
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func officialJSONRoundTrips() throws {
        var failures: [String] = []
        for name in Self.pairNames {
            let json = try FHIRJSON.parse(Self.bytes(Fixtures.url("hl7-examples/json/\(name).json")))
            do {
                let back = try FHIRXMLReader.resource(from: FHIRXMLWriter.document(for: json))
                if let difference = FHIRJSONComparison.difference(back, json) { failures.append("\(name): \(difference)") }
            } catch {
                failures.append("\(name): \(Self.describe(error))")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(Self.pairNames.count) differ:\n\(failures.joined(separator: "\n"))")
    }

    /// (d) Synthea bundles and bulk NDJSON survive JSON -> XML -> JSON unchanged.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func syntheaAndNDJSONRoundTrip() throws {
        var failures: [String] = []
        var count = 0
        for (label, json) in try Self.syntheaAndNDJSONResources() {
            count += 1
            do {
                let xml = try FHIRXMLWriter.document(for: json)
                let back = try FHIRXMLReader.resource(from: xml)
                // Exact equality, narrative strings included (our XML carries the div verbatim).
                if !back.isEquivalent(to: json) {
                    failures.append("\(label): \(FHIRJSONComparison.difference(back, json) ?? "narrative strings differ")")
                }
            } catch {
                failures.append("\(label): \(Self.describe(error))")
            }
        }
        #expect(count == Fixtures.expected(full: 34 + 5_945, vendored: 8 + 2_144))
        #expect(failures.isEmpty, "\(failures.count) of \(count) differ:\n\(failures.prefix(20).joined(separator: "\n"))")
    }

    static func syntheaAndNDJSONResources() throws -> [(String, JSONValue)] {
        var resources: [(String, JSONValue)] = []
        for file in Fixtures.files(in: "synthea", withExtension: "json") {
            resources.append((file.lastPathComponent, try FHIRJSON.parse(bytes(file))))
        }
        for file in Fixtures.files(in: "ndjson", withExtension: "ndjson") {
            let data = try bytes(file)
            for (number, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
                resources.append(("\(file.lastPathComponent):\(number + 1)", try FHIRJSON.parse(Array(line))))
            }
        }
        return resources
    }

    /// (c) Every XML document we produce validates against the official schema.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func producedXMLValidatesAgainstTheSchema() async throws {
        let xmllint = ["/usr/bin/xmllint", "/usr/local/bin/xmllint", "/opt/homebrew/bin/xmllint"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        try #require(xmllint != nil, "xmllint is not installed (Debian: apt-get install -y libxml2-utils); schema validation cannot run")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrec-xml-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        var paths: [String] = []
        func write(_ bytes: [UInt8], _ name: String) throws {
            let url = directory.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            paths.append(url.path)
        }
        for name in Self.pairNames {
            let json = try FHIRJSON.parse(Self.bytes(Fixtures.url("hl7-examples/json/\(name).json")))
            try write(FHIRXMLWriter.document(for: json), "\(name).xml")
            try write(FHIRXMLWriter.document(for: json, pretty: true), "\(name)-pretty.xml")
        }
        for (index, (label, json)) in try Self.syntheaAndNDJSONResources().enumerated() {
            let safe = label.replacingOccurrences(of: ":", with: "-")
            try write(FHIRXMLWriter.document(for: json), "\(index)-\(safe).xml")
        }
        let full: Int = 161 * 2 + 34 + 5_945, vendored: Int = 32 * 2 + 8 + 2_144
        #expect(paths.count == Fixtures.expected(full: full, vendored: vendored))

        // Not a blocking wait: see ExternalTool.
        let result = try await ExternalTool.run(xmllint!, ["--noout", "--schema", Fixtures.url("xsd/fhir-single.xsd").path] + paths)
        let output = result.output
        let failures = output.split(separator: "\n").filter { !$0.hasSuffix(" validates") }
        #expect(result.status == 0, "xmllint exit status \(result.status)")
        #expect(failures.isEmpty, "\(failures.count) xmllint messages:\n\(failures.prefix(30).joined(separator: "\n"))")
        #expect(output.split(separator: "\n").filter { $0.hasSuffix(" validates") }.count == paths.count)
    }
}
