import FHIRModels
import FixtureSupport
import Foundation
import Testing

/// The one reference parser: every form R4 allows, and every reference in the real data.
@Suite struct ResourceReferenceTests {
    @Test("literal forms name their target; the others name no stored resource")
    func forms() {
        func target(_ text: String) -> String? { ResourceReference(text).target.map { "\($0.type)/\($0.id)" } }
        #expect(target("Patient/123") == "Patient/123")
        #expect(target("Patient/123/_history/2") == "Patient/123")
        #expect(ResourceReference("Patient/123/_history/2").version == "2")
        #expect(target("https://host/fhir/Patient/123") == "Patient/123")
        #expect(ResourceReference("https://host/fhir/Patient/123").isAbsolute)
        #expect(target("https://host/fhir/Encounter/e.1/_history/9") == "Encounter/e.1")
        #expect(target("#contained-1") == nil)
        #expect(ResourceReference("#contained-1").isContained)
        #expect(target("urn:uuid:866bb57e-a566-4708-8381-3a0a400e93ab") == nil)
        #expect(ResourceReference("urn:uuid:866bb57e-a566-4708-8381-3a0a400e93ab").isPlaceholder)
        #expect(target("Patient?identifier=http://example.org|1") == nil)
        #expect(ResourceReference("Patient?identifier=http://example.org|1").isConditional)
        #expect(target("fhir/Patient/1") == nil, "a relative reference is exactly Type/id")
        #expect(target("Nonsense/1") == nil, "unknown resource type")
        #expect(target("patient/1") == nil, "resource types start upper case")
        #expect(target("Patient/a b") == nil, "invalid id")
        #expect(target("Patient/") == nil)
        #expect(target("Patient/1/_history") == nil)
        #expect(target("") == nil)
        #expect(ResourceReference("Patient/9").id(ofType: "Patient") == "9")
        #expect(ResourceReference("Patient/9").id(ofType: "Group") == nil)
        #expect(ResourceReference.literal(type: "Claim", id: "c1") == "Claim/c1")
    }

    /// Every `reference` string in a JSON tree.
    static func references(in value: JSONValue, into result: inout [String]) {
        switch value {
        case .object(let object):
            for (key, child) in object {
                if key == "reference", let text = child.stringValue { result.append(text) } else { references(in: child, into: &result) }
            }
        case .array(let items):
            for item in items { references(in: item, into: &result) }
        default:
            break
        }
    }

    @Test("Synthea bundles link entries only by urn:uuid placeholders, conditional and contained references", .enabled(if: Fixtures.available, Fixtures.absentReason))
    func synthea() throws {
        var total = 0
        for url in Fixtures.files(in: "synthea", withExtension: "json") {
            var found: [String] = []
            Self.references(in: try FHIRJSON.parse(Array(Data(contentsOf: url))), into: &found)
            for text in found {
                let reference = ResourceReference(text)
                #expect(reference.target == nil && (reference.isPlaceholder || reference.isConditional || reference.isContained), "\(url.lastPathComponent): \(text.prefix(40))")
            }
            total += found.count
        }
        #expect(total > Fixtures.expected(full: 10_000, vendored: 3_000), "the bundles were read")
    }

    @Test("in HL7's examples, every relative Type/id reference to a known type has that target", .enabled(if: Fixtures.available, Fixtures.absentReason))
    func hl7Examples() throws {
        var relative = 0
        for url in Fixtures.files(in: "hl7-examples/json", withExtension: "json") {
            var found: [String] = []
            Self.references(in: try FHIRJSON.parse(Array(Data(contentsOf: url))), into: &found)
            for text in found where !text.contains(":") && !text.hasPrefix("#") && !text.contains("?") {
                let parts = text.split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count == 2, FHIRMetadata.resource(named: String(parts[0])) != nil, FHIRLexical.isID(String(parts[1])) else { continue }
                let target = ResourceReference(text).target
                #expect(target?.type == String(parts[0]) && target?.id == String(parts[1]), "\(url.lastPathComponent): \(text)")
                relative += 1
            }
        }
        #expect(relative > Fixtures.expected(full: 500, vendored: 100), "the examples were read")
    }
}
