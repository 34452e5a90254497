import FixtureSupport
import Foundation
import Testing
@testable import FHIRModels

@Suite("FHIR element metadata")
struct FHIRMetadataTests {
    @Test func listsAllConcreteResourceTypes() throws {
        #expect(FHIRMetadata.resourceTypeNames.count == 146)
        #expect(FHIRMetadata.resourceTypeNames == FHIRMetadata.resourceTypeNames.sorted())
        for name in ["Patient", "Observation", "Bundle", "Parameters", "Binary", "VisionPrescription"] {
            #expect(FHIRMetadata.resourceTypeNames.contains(name))
            #expect(FHIRMetadata.resource(named: name)?.kind == .resource)
        }
        // Abstract resources and datatypes are types but not resources.
        #expect(FHIRMetadata.resource(named: "Resource") == nil)
        #expect(FHIRMetadata.resource(named: "DomainResource") == nil)
        #expect(FHIRMetadata.resource(named: "HumanName") == nil)
        #expect(FHIRMetadata.resource(named: "Patient.contact") == nil)
        for name in ["Resource", "DomainResource", "Element", "BackboneElement"] {
            #expect(try #require(FHIRMetadata.type(named: name)).isAbstract, "\(name)")
        }
        #expect(FHIRMetadata.type(named: "Patient")?.isAbstract == false)
        #expect(FHIRMetadata.type(named: "Nonsense") == nil)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func resourceTypesMatchTheStructureDefinitions() {
        let fileNames = Fixtures.files(in: "definitions/structuredefinitions", withExtension: "json")
            .map { $0.deletingPathExtension().lastPathComponent.replacingOccurrences(of: "StructureDefinition-", with: "") }
        #expect(fileNames.count == Fixtures.expected(full: 148, vendored: 10))
        let concrete = fileNames.filter { $0 != "Resource" && $0 != "DomainResource" }
        if Fixtures.isVendored {
            // The subset holds a few definitions (the abstract two among them); each is a type we list.
            #expect(concrete.count == fileNames.count - 2)
            #expect(Set(concrete).isSubset(of: FHIRMetadata.resourceTypeNames), "\(Set(concrete).subtracting(FHIRMetadata.resourceTypeNames))")
        } else {
            #expect(FHIRMetadata.resourceTypeNames == concrete)
        }
    }

    @Test func patientElementsAreInSpecOrder() throws {
        let patient = try #require(FHIRMetadata.resource(named: "Patient"))
        #expect(patient.elements.map(\.name) == [
            "id", "meta", "implicitRules", "language", "text", "contained", "extension", "modifierExtension",
            "identifier", "active", "name", "telecom", "gender", "birthDate", "deceased", "address",
            "maritalStatus", "multipleBirth", "photo", "contact", "communication", "generalPractitioner",
            "managingOrganization", "link",
        ])
        let id = try #require(patient.element(forJSONName: "id"))
        #expect(id.type == "id")
        #expect(id.element.representation == .element)
        let name = try #require(patient.element(forJSONName: "name"))
        #expect(name.index == 10 && name.type == "HumanName" && name.element.isArray && name.element.isSummary)
        let contact = try #require(patient.element(forJSONName: "contact"))
        #expect(contact.type == "Patient.contact")
        let contactType = try #require(FHIRMetadata.type(named: "Patient.contact"))
        #expect(contactType.kind == .backbone)
        #expect(contactType.elements.map(\.name) == [
            "id", "extension", "modifierExtension", "relationship", "name", "telecom", "address", "gender",
            "organization", "period",
        ])
        #expect(contactType.elements[0].representation == .xmlAttribute)
        let deceased = try #require(patient.element(forJSONName: "deceasedDateTime"))
        #expect(deceased.element.name == "deceased" && deceased.element.isChoice && deceased.type == "dateTime")
        #expect(patient.element(forJSONName: "deceasedBoolean")?.type == "boolean")
        #expect(patient.element(forJSONName: "deceased") == nil)
        #expect(patient.element(forJSONName: "deceasedString") == nil)
        #expect(patient.element(forJSONName: "_gender") == nil)
    }

    @Test func choiceElementsResolveToTheirType() throws {
        let observation = try #require(FHIRMetadata.resource(named: "Observation"))
        let value = try #require(observation.element(forJSONName: "valueQuantity"))
        #expect(value.element.name == "value")
        #expect(value.type == "Quantity")
        #expect(value.element.isChoice && !value.element.isArray && value.element.min == 0)
        #expect(value.element.types.count == 11)
        #expect(observation.element(forJSONName: "valueCodeableConcept")?.type == "CodeableConcept")
        #expect(observation.element(forJSONName: "effectiveDateTime")?.type == "dateTime")
        #expect(observation.element(forJSONName: "valueMoney") == nil)
        let status = try #require(observation.element(forJSONName: "status"))
        #expect(status.type == "code" && status.element.min == 1 && status.element.max == 1)
        // Extension.value[x] allows every open type.
        let extensionType = try #require(FHIRMetadata.type(named: "Extension"))
        #expect(extensionType.element(forJSONName: "valueBase64Binary")?.type == "base64Binary")
        #expect(extensionType.element(forJSONName: "valueUuid")?.type == "uuid")
        #expect(extensionType.element(forJSONName: "valueMeta")?.type == "Meta")
    }

    @Test func contentReferencesResolveToTheReferencedBackbone() throws {
        let item = try #require(FHIRMetadata.type(named: "Questionnaire.item"))
        let nested = try #require(item.element(forJSONName: "item"))
        #expect(nested.type == "Questionnaire.item")
        #expect(nested.element.types == ["Questionnaire.item"])
        #expect(nested.element.isArray)
        #expect(FHIRMetadata.type(named: "Questionnaire.item.item") == nil)
        // The referencing element's own max decides array-ness: TestScript.test.action.operation is 0..1.
        let action = try #require(FHIRMetadata.type(named: "TestScript.test.action"))
        let operation = try #require(action.element(forJSONName: "operation"))
        #expect(operation.type == "TestScript.setup.action.operation" && !operation.element.isArray)
        let entry = try #require(FHIRMetadata.type(named: "Bundle.entry"))
        #expect(entry.element(forJSONName: "link")?.type == "Bundle.link")
        #expect(entry.element(forJSONName: "resource")?.type == "Resource")
        #expect(entry.element(forJSONName: "request")?.type == "Bundle.entry.request")
        #expect(FHIRMetadata.type(named: "Bundle.entry.request")?.kind == .backbone)
        // Datatypes have backbones too.
        #expect(FHIRMetadata.type(named: "Timing")?.element(forJSONName: "repeat")?.type == "Timing.repeat")
        #expect(FHIRMetadata.type(named: "Timing.repeat")?.element(forJSONName: "boundsPeriod")?.type == "Period")
    }

    @Test func xmlRepresentations() throws {
        let extensionType = try #require(FHIRMetadata.type(named: "Extension"))
        let url = try #require(extensionType.element(forJSONName: "url"))
        #expect(url.element.representation == .xmlAttribute)
        #expect(url.type == "uri" && url.element.min == 1)
        #expect(extensionType.element(forJSONName: "id")?.element.representation == .xmlAttribute)
        #expect(extensionType.element(forJSONName: "id")?.type == "string")
        let narrative = try #require(FHIRMetadata.type(named: "Narrative"))
        let div = try #require(narrative.element(forJSONName: "div"))
        #expect(div.element.representation == .xhtml && div.type == "xhtml" && div.element.min == 1)
        #expect(narrative.element(forJSONName: "status")?.element.representation == .element)
        // Element.id is an attribute on every datatype and backbone, never on a resource.
        #expect(FHIRMetadata.type(named: "HumanName")?.elements.first?.representation == .xmlAttribute)
        #expect(FHIRMetadata.type(named: "string")?.elements.first?.representation == .xmlAttribute)
        #expect(FHIRMetadata.type(named: "Bundle.entry.request")?.elements.first?.representation == .xmlAttribute)
        for name in FHIRMetadata.resourceTypeNames {
            let id = try #require(FHIRMetadata.resource(named: name)?.elements.first)
            #expect(id.name == "id" && id.types == ["id"] && id.representation == .element, "\(name)")
        }
    }

    @Test func primitivesHaveOnlyIdAndExtension() throws {
        let primitives = ["base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id",
                          "instant", "integer", "markdown", "oid", "positiveInt", "string", "time",
                          "unsignedInt", "uri", "url", "uuid", "xhtml"]
        for name in primitives {
            let type = try #require(FHIRMetadata.type(named: name))
            #expect(type.kind == .primitive)
            #expect(type.elements.map(\.name) == ["id", "extension"], "\(name)")
            #expect(FHIRMetadata.primitiveJSONKind(of: name) != nil)
        }
        #expect(FHIRMetadata.primitiveJSONKind(of: "boolean") == .boolean)
        #expect(FHIRMetadata.primitiveJSONKind(of: "positiveInt") == .integer)
        #expect(FHIRMetadata.primitiveJSONKind(of: "unsignedInt") == .integer)
        #expect(FHIRMetadata.primitiveJSONKind(of: "decimal") == .decimal)
        #expect(FHIRMetadata.primitiveJSONKind(of: "instant") == .string)
        #expect(FHIRMetadata.primitiveJSONKind(of: "HumanName") == nil)
        #expect(FHIRMetadata.primitiveJSONKind(of: "Patient.contact") == nil)
    }

    @Test func quantityProfilesAreQuantities() throws {
        let quantity = try #require(FHIRMetadata.type(named: "Quantity"))
        for name in ["SimpleQuantity", "MoneyQuantity"] {
            let profile = try #require(FHIRMetadata.type(named: name))
            #expect(profile.kind == .complex)
            #expect(profile.elements == quantity.elements)
        }
        #expect(FHIRMetadata.type(named: "Age")?.elements.map(\.name) == quantity.elements.map(\.name))
    }

    @Test func counts() {
        let types = FHIRMetadata.catalog.types.values
        #expect(types.count == 684)
        #expect(types.filter { $0.kind == .primitive }.count == 20)
        #expect(types.filter { $0.kind == .complex }.count == 43)
        #expect(types.filter { $0.kind == .resource }.count == 148)
        #expect(types.filter { $0.kind == .backbone }.count == 473)
        #expect(types.reduce(0) { $0 + $1.elements.count } == 7460)
    }

    /// Every element of every resource StructureDefinition snapshot is found under its path,
    /// with its cardinality and (for non-choice, non-backbone elements) its type.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func everySnapshotElementResolves() throws {
        var checked = 0
        for url in Fixtures.files(in: "definitions/structuredefinitions", withExtension: "json") {
            let definition = try FHIRJSON.parse(Data(contentsOf: url))
            for element in try #require(definition["snapshot"]?["element"]?.arrayValue).dropFirst() {
                let path = try #require(element["path"]?.stringValue)
                let parent = String(path[..<path.lastIndex(of: ".")!])
                var name = String(path[path.index(after: path.lastIndex(of: ".")!)...])
                let type = try #require(FHIRMetadata.type(named: parent), "\(parent)")
                let choice = name.hasSuffix("[x]")
                if choice { name.removeLast(3) }
                let info = try #require(type.elements.first { $0.name == name }, "\(path)")
                #expect(info.isChoice == choice, "\(path)")
                #expect(info.min == Int(element["min"]?.numberLexical ?? ""), "\(path)")
                let max = element["max"]?.stringValue
                #expect(info.max == (max == "*" ? nil : Int(max ?? "")), "\(path)")
                if let reference = element["contentReference"]?.stringValue {
                    #expect(info.types == [String(reference.dropFirst())], "\(path)")
                } else if choice {
                    let codes = element["type"]?.arrayValue?.compactMap { $0["code"]?.stringValue } ?? []
                    #expect(info.types == codes, "\(path)")
                    for code in codes {
                        #expect(type.element(forJSONName: FHIRMetadata.choiceName(name, code))?.type == code)
                    }
                }
                checked += 1
            }
        }
        #expect(checked > Fixtures.expected(full: 6000, vendored: 500))
    }

    @Test func decodesQuickly() {
        // Thread CPU time, so that other processes on a busy machine do not count.
        func cpuTime() -> Duration {
            var spec = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
            return .seconds(spec.tv_sec) + .nanoseconds(spec.tv_nsec)
        }
        let start = cpuTime()
        let catalog = FHIRMetadata.Catalog(decoding: FHIRMetadata.encoded)
        let elapsed = cpuTime() - start
        #expect(catalog.types.count == 684)
        print("decoded metadata in \(elapsed) CPU")
        // The budget is 50 ms in release; debug builds are several times slower.
        #expect(elapsed < .milliseconds(150), "decoding took \(elapsed)")
    }
}
