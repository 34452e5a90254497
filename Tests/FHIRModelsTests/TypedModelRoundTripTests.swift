import FixtureSupport
import Foundation
import Testing
@testable import FHIRModels

/// The typed models must hold every official example and every Synthea bundle without loss:
/// decoding and encoding again gives the same JSON tree.
@Suite("Typed model round trip")
struct TypedModelRoundTripTests {
    static let typedResourceTypes: Set<String> = [
        "Patient", "Practitioner", "Encounter", "MedicationRequest", "Claim", "Composition",
        "Bundle", "OperationOutcome", "CapabilityStatement",
    ]

    /// HL7 example files whose top-level resource has a typed model, as (file name, resourceType).
    static let hl7TypedFiles: [String] = Fixtures.files(in: "hl7-examples/json", withExtension: "json").compactMap { url in
        guard let type = try? FHIRJSON.parse(Data(contentsOf: url))["resourceType"]?.stringValue,
              typedResourceTypes.contains(type) else { return nil }
        return url.lastPathComponent
    }

    /// OperationOutcomes written by HL7's Java validator (the expected outcomes of its test cases).
    static let validatorOutcomeFiles: [String] = Fixtures.files(in: "conformance/validator/outcomes/java", withExtension: "json")
        .map(\.lastPathComponent)

    static let syntheaFiles: [String] = Fixtures.files(in: "synthea", withExtension: "json").map(\.lastPathComponent)

    private func load(_ relativePath: String) throws -> JSONValue {
        try FHIRJSON.parse(Fixtures.data(relativePath))
    }

    /// Decodes with the model the resourceType names and encodes again.
    private func roundTrip(_ json: JSONValue) throws -> JSONValue {
        switch json["resourceType"]?.stringValue {
        case "Patient": return try Patient(json: json).json()
        case "Practitioner": return try Practitioner(json: json).json()
        case "Encounter": return try Encounter(json: json).json()
        case "MedicationRequest": return try MedicationRequest(json: json).json()
        case "Claim": return try Claim(json: json).json()
        case "Composition": return try Composition(json: json).json()
        case "Bundle": return try FHIRModels.Bundle(json: json).json()
        case "OperationOutcome": return try OperationOutcome(json: json).json()
        case "CapabilityStatement": return try CapabilityStatement(json: json).json()
        default:
            Issue.record("no typed model for this file")
            return json
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func findsTheExpectedHL7Examples() throws {
        var counts: [String: Int] = [:]
        for name in Self.hl7TypedFiles {
            let type = try load("hl7-examples/json/" + name)["resourceType"]?.stringValue ?? "?"
            counts[type, default: 0] += 1
        }
        #expect(counts == [
            "Patient": 15, "Practitioner": 9, "Encounter": 7, "MedicationRequest": 27, "Claim": 11, "Bundle": 21,
        ])
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason), arguments: hl7TypedFiles)
    func hl7ExampleRoundTrips(file: String) throws {
        let original = try load("hl7-examples/json/" + file)
        let encoded = try roundTrip(original)
        #expect(difference(original, encoded) == nil)
    }

    /// Resources inside the example bundles (entries, outcomes, contained) decode to their typed
    /// case and round-trip alone; this is where Composition and OperationOutcome examples live.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func typedResourcesInsideBundlesRoundTrip() throws {
        var counts: [String: Int] = [:]
        for file in Self.hl7TypedFiles {
            let bundle = try load("hl7-examples/json/" + file)
            guard bundle["resourceType"]?.stringValue == "Bundle" else { continue }
            for resource in nestedResources(in: bundle) {
                let type = resource["resourceType"]?.stringValue ?? "?"
                let any = try AnyFHIRResource(json: resource)
                if Self.typedResourceTypes.contains(type) {
                    #expect(any.resource != nil, "\(file): \(type) decoded as .other")
                    counts[type, default: 0] += 1
                } else {
                    #expect(any == .other(resource))
                }
                #expect(any.resourceType == type)
                let encoded = any.json()
                #expect(difference(resource, encoded) == nil, "\(file) \(type)")
            }
        }
        #expect(counts["Composition"] == 1)
        #expect(counts["OperationOutcome"] == 3)
        #expect(counts["Patient", default: 0] > 0)
        #expect(counts["Practitioner", default: 0] > 0)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func jsonEdgeCasesPatientRoundTrips() throws {
        let original = try load("conformance/json-edge-cases.json")
        let encoded = try Patient(json: original).json()
        #expect(difference(original, encoded) == nil)
    }

    /// The one CapabilityStatement among the fixtures (a validator case whose only fault is a
    /// search parameter type, so it is structurally sound).
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func capabilityStatementRoundTrips() throws {
        let original = try load("conformance/validator/capstmt.json")
        let statement = try CapabilityStatement(json: original)
        #expect(statement.rest.first?.resource.isEmpty == false)
        #expect(difference(original, statement.json()) == nil)
    }

    /// 18 of these files are a bare `{"resourceType": "OperationOutcome"}` (the validator's "no
    /// issues"), which R4 does not allow (`issue` is 1..*): the typed model must refuse them.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason), arguments: validatorOutcomeFiles)
    func validatorOutcomeRoundTrips(file: String) throws {
        let original = try load("conformance/validator/outcomes/java/" + file)
        guard original["issue"] != nil else {
            let error = #expect(throws: FHIRFormatError.self) { try OperationOutcome(json: original) }
            #expect(error?.kind == .missingElement)
            #expect(error?.expression == "OperationOutcome.issue")
            return
        }
        let outcome = try OperationOutcome(json: original)
        #expect(difference(original, outcome.json()) == nil)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason), arguments: syntheaFiles)
    func syntheaBundleRoundTrips(file: String) throws {
        let original = try load("synthea/" + file)
        let bundle = try FHIRModels.Bundle(json: original)
        #expect(bundle.type.value == "transaction")
        let typed = bundle.entry.filter { $0.resource?.resource != nil }.count
        #expect(typed > 0)
        let encoded = bundle.json()
        #expect(difference(original, encoded) == nil)
    }

    /// `nil` when the trees are equivalent, else where they first differ.
    private func difference(_ original: JSONValue, _ encoded: JSONValue) -> String? {
        guard !encoded.isEquivalent(to: original) else { return nil }
        return JSONDifference.first(original, encoded) ?? "trees differ"
    }

    /// Every resource below `json`: Bundle entries and outcomes, and contained resources.
    private func nestedResources(in json: JSONValue) -> [JSONValue] {
        var found: [JSONValue] = []
        func walk(_ value: JSONValue, isRoot: Bool) {
            switch value {
            case .object(let object):
                if !isRoot, object["resourceType"] != nil { found.append(value) }
                for member in object { walk(member.value, isRoot: false) }
            case .array(let array):
                for item in array { walk(item, isRoot: false) }
            default:
                break
            }
        }
        walk(json, isRoot: true)
        return found
    }
}
