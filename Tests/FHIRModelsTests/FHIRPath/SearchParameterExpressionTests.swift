import FHIRModels
import FixtureSupport
import Foundation
import Testing

/// The generated R4 search parameters, and the FHIRPath subset evaluating their expressions on
/// the official examples. Expected values are read from the JSON directly, not via FHIRPath.
@Suite struct SearchParameterExpressionTests {
    static let coreTypes = [
        "Patient", "Practitioner", "Encounter", "MedicationRequest", "Claim", "Composition", "Observation",
        "Condition", "Procedure", "AllergyIntolerance", "Immunization", "Appointment",
    ]

    /// Parameters whose definitions carry no expression at all.
    static let withoutExpression: Set<String> = ["_text", "_content", "_query"]

    static func example(_ name: String) throws -> JSONValue {
        try FHIRJSON.parse(Array(try Fixtures.data("hl7-examples/json/" + name)))
    }

    static func evaluate(_ code: String, on resource: JSONValue) throws -> [FHIRPathValue] {
        let type = try #require(resource["resourceType"]?.stringValue)
        let definition = try #require(SearchParameterDefinitions.parameter(code, for: type))
        return try FHIRPathExpression(try #require(definition.expression), options: .search).evaluate(resource)
    }

    @Test func definitionsAreGeneratedPerBaseType() throws {
        // 1375 R4 SearchParameters, 1706 once multi-base ones are split per type.
        #expect(SearchParameterDefinitions.all.count == 1706)
        let birthdate = try #require(SearchParameterDefinitions.parameter("birthdate", for: "Patient"))
        #expect(birthdate.kind == .date)
        #expect(birthdate.expression == "Patient.birthDate")
        let patient = try #require(SearchParameterDefinitions.parameter("patient", for: "Observation"))
        #expect(patient.expression == "Observation.subject.where(resolve() is Patient)")
        #expect(patient.targets == ["Patient", "Group"])
        let id = try #require(SearchParameterDefinitions.parameter("_id", for: "Observation"))
        #expect(id.resourceType == "Resource" && id.expression == "Resource.id")
        #expect(SearchParameterDefinitions.parameter("_text", for: "Patient")?.resourceType == "DomainResource")
        #expect(SearchParameterDefinitions.parameter("_text", for: "Bundle") == nil)
        #expect(SearchParameterDefinitions.parameters(for: "HumanName").isEmpty)
        let combo = try #require(SearchParameterDefinitions.parameter("combo-code-value-quantity", for: "Observation"))
        #expect(combo.kind == .composite)
        #expect(combo.components.map(\.expression) == ["code", "value.as(Quantity)"])
        #expect(SearchParameterDefinitions.parameter("value-quantity", for: "Observation")?.expression
            == "(Observation.value as Quantity) | (Observation.value as SampledData)")
        #expect(SearchParameterDefinitions.parameter("birthdate", for: "Observation") == nil)
    }

    @Test func coreTypesExpressionsCompile() throws {
        for type in Self.coreTypes {
            let parameters = SearchParameterDefinitions.parameters(for: type)
            #expect(parameters.count > 10, "\(type) has its parameters")
            for parameter in parameters {
                guard let expression = parameter.expression else {
                    #expect(Self.withoutExpression.contains(parameter.code), "\(type).\(parameter.code) has no expression")
                    continue
                }
                #expect(throws: Never.self, "\(type).\(parameter.code)") { try FHIRPathExpression(expression) }
                for component in parameter.components {
                    #expect(throws: Never.self, "\(type).\(parameter.code) component") {
                        try FHIRPathExpression(component.expression)
                    }
                }
            }
        }
    }

    @Test func almostAllExpressionsCompile() {
        var total = 0
        var unsupported: [String] = []
        for parameter in SearchParameterDefinitions.all {
            for expression in [parameter.expression].compactMap({ $0 }) + parameter.components.map(\.expression) {
                total += 1
                do { _ = try FHIRPathExpression(expression) } catch {
                    unsupported.append("\(parameter.resourceType).\(parameter.code): \(expression) (\(error))")
                }
            }
        }
        print("Search parameter expressions: \(total - unsupported.count) of \(total) compile")
        for line in unsupported { print("  unsupported \(line)") }
        #expect(Double(total - unsupported.count) >= 0.95 * Double(total))
    }

    /// Every parameter of the core types evaluates without error on every example of the type.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func expressionsEvaluateOnExamples() throws {
        var evaluated = 0, nonEmpty = 0
        for url in Fixtures.files(in: "hl7-examples/json", withExtension: "json") {
            let resource = try FHIRJSON.parse(Array(try Data(contentsOf: url)))
            guard let type = resource["resourceType"]?.stringValue, Self.coreTypes.contains(type) else { continue }
            for parameter in SearchParameterDefinitions.parameters(for: type) {
                guard let text = parameter.expression, let expression = try? FHIRPathExpression(text, options: .search) else { continue }
                do {
                    let values = try expression.evaluate(resource)
                    evaluated += 1
                    if !values.isEmpty { nonEmpty += 1 }
                } catch {
                    Issue.record("\(url.lastPathComponent) \(type).\(parameter.code): \(error)")
                }
            }
        }
        // Strict FHIRPath refuses `as` on several items, which R4's component parameters do.
        let text = "(Observation.component.value as CodeableConcept)"
        let apgar = try Self.example("observation-example-1minute-apgar-score.json")
        let components = apgar["component"]?.arrayValue ?? []
        #expect(components.count > 1)
        #expect(throws: FHIRPathError.self) { try FHIRPathExpression(text).evaluate(apgar) }
        #expect(try FHIRPathExpression(text, options: .search).evaluate(apgar).map(\.node)
            == components.compactMap { $0["valueCodeableConcept"] })
        print("Search parameters evaluated on examples: \(evaluated), with values: \(nonEmpty)")
        #expect(evaluated > Fixtures.expected(full: 1000, vendored: 500))
        #expect(nonEmpty > Fixtures.expected(full: 300, vendored: 200))
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func patientValues() throws {
        let patient = try Self.example("patient-example.json")
        #expect(try Self.evaluate("birthdate", on: patient).map(\.node) == [.string("1974-12-25")])
        #expect(try Self.evaluate("birthdate", on: patient).first?.typeName == "date")
        let families = (patient["name"]?.arrayValue ?? []).compactMap { $0["family"] }
        #expect(families.contains(.string("Chalmers")))
        #expect(try Self.evaluate("family", on: patient).map(\.node) == families)
        #expect(try Self.evaluate("gender", on: patient).map(\.node) == [.string("male")])
        #expect(try Self.evaluate("_id", on: patient).map(\.node) == [.string("example")])
        #expect(try Self.evaluate("name", on: patient).map(\.node) == patient["name"]?.arrayValue)
        #expect(try Self.evaluate("identifier", on: patient).map(\.node) == patient["identifier"]?.arrayValue)
        // `Patient.telecom.where(system='phone')`: only the phone numbers, in order.
        let phones = (patient["telecom"]?.arrayValue ?? []).filter { $0["system"] == .string("phone") }
        #expect(!phones.isEmpty)
        #expect(try Self.evaluate("phone", on: patient).map(\.node) == phones)
        #expect(try Self.evaluate("organization", on: patient).map(\.node) == [patient["managingOrganization"]!])
        // `Patient.deceased.exists() and Patient.deceased != false`: the example has `deceasedBoolean: false`.
        #expect(patient["deceasedBoolean"] == .bool(false))
        #expect(try Self.evaluate("deceased", on: patient).map(\.node) == [.bool(false)])
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func observationValues() throws {
        let observation = try Self.example("observation-example.json")
        let subject = try #require(observation["subject"])
        #expect(subject["reference"] == .string("Patient/example"))
        #expect(try Self.evaluate("subject", on: observation).map(\.node) == [subject])
        #expect(try Self.evaluate("patient", on: observation).map(\.node) == [subject])
        #expect(try Self.evaluate("code", on: observation).map(\.node) == [observation["code"]!])
        #expect(try Self.evaluate("code", on: observation).first?.typeName == "CodeableConcept")
        // `value[x]`: `Observation.value as Quantity` finds `valueQuantity`.
        let quantity = try #require(observation["valueQuantity"])
        #expect(try Self.evaluate("value-quantity", on: observation).map(\.node) == [quantity])
        #expect(try Self.evaluate("value-quantity", on: observation).first?.typeName == "Quantity")
        #expect(try Self.evaluate("value-string", on: observation).isEmpty)
        #expect(try Self.evaluate("date", on: observation).map(\.node) == [observation["effectiveDateTime"]!])
        #expect(try Self.evaluate("encounter", on: observation).map(\.node) == [observation["encounter"]!])
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func referenceTypeFilters() throws {
        // `patient` keeps subjects that reference a Patient; `Group/...` or a Location is dropped.
        let resource: JSONValue = .object([
            "resourceType": .string("Observation"), "status": .string("final"),
            "code": .object(["text": .string("x")]),
            "subject": .object(["reference": .string("Group/g1")]),
        ])
        #expect(try Self.evaluate("patient", on: resource).isEmpty)
        #expect(try Self.evaluate("subject", on: resource).count == 1)
        var absolute = resource.objectValue!
        absolute["subject"] = .object(["reference": .string("https://example.org/fhir/Patient/p1/_history/2")])
        #expect(try Self.evaluate("patient", on: .object(absolute)).count == 1)
        // A contained target is resolved from the resource itself.
        var contained = resource.objectValue!
        contained["contained"] = .array([.object(["resourceType": .string("Patient"), "id": .string("p")])])
        contained["subject"] = .object(["reference": .string("#p")])
        #expect(try Self.evaluate("patient", on: .object(contained)).count == 1)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func compositeComponents() throws {
        let observation = try Self.example("observation-example.json")
        let combo = try #require(SearchParameterDefinitions.parameter("combo-code-value-quantity", for: "Observation"))
        let roots = try FHIRPathExpression(try #require(combo.expression), options: .search).evaluate(observation)
        // `Observation | Observation.component`: the example has no components.
        #expect(roots.count == 1 + (observation["component"]?.arrayValue?.count ?? 0))
        let value = try FHIRPathExpression(combo.components[1].expression, options: .search).evaluate(roots[0].node)
        #expect(value.map(\.node) == [observation["valueQuantity"]!])
    }
}
