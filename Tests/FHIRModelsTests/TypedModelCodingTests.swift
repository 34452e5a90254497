import Foundation
import Testing
@testable import FHIRModels

/// What a user of the typed models sees for the FHIR JSON details that generic coders lose:
/// lexical decimals, date precision, choice types, `_field` extensions and strictness.
@Suite("Typed model coding")
struct TypedModelCodingTests {
    private func decodeError<T: FHIRJSONRepresentable>(_ type: T.Type, _ text: String) -> FHIRFormatError? {
        do {
            _ = try T(json: FHIRJSON.parse(text))
            return nil
        } catch {
            return error
        }
    }

    @Test func decimalKeepsItsLexicalForm() throws {
        let text = #"{"value":1.50,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"}"#
        let quantity = try Quantity(json: FHIRJSON.parse(text))
        #expect(quantity.value?.value?.lexicalForm == "1.50")
        #expect(quantity.value?.value?.decimal == Decimal(string: "1.5"))
        #expect(FHIRJSON.string(quantity.json()) == text)
        #expect(FHIRDecimal("1.50") != FHIRDecimal("1.5"))
        #expect(FHIRDecimal("01.5") == nil)
        #expect(FHIRDecimal("1E-22")?.lexicalForm == "1E-22")
    }

    @Test func birthDateKeepsItsPrecision() throws {
        let year = try Patient(json: FHIRJSON.parse(#"{"resourceType":"Patient","birthDate":"1974"}"#))
        #expect(year.birthDate?.value?.precision == .year)
        #expect(year.birthDate?.value?.year == 1974)
        #expect(year.birthDate?.value?.month == nil)
        #expect(year.json()["birthDate"] == .string("1974"))

        let month = try Patient(json: FHIRJSON.parse(#"{"resourceType":"Patient","birthDate":"1974-12"}"#))
        #expect(month.birthDate?.value?.precision == .month)
        #expect(month.birthDate?.value?.month == 12)
        #expect(month.json()["birthDate"] == .string("1974-12"))

        let day = try Patient(json: FHIRJSON.parse(#"{"resourceType":"Patient","birthDate":"1974-12-25"}"#))
        #expect(day.birthDate?.value?.precision == .day)
        #expect(day.birthDate?.value?.day == 25)
    }

    @Test func dateTimesKeepTheirExactText() throws {
        for text in ["2015", "2015-02", "2015-02-07", "2015-02-07T13:28", "2015-02-07T13:28:17+02:00",
                     "2015-02-07T13:28:17.239+02:00", "2015-02-07T13:28:17.2390Z", "2015-02-07T13:28:17-00:00"] {
            let value = try #require(FHIRDateTime(text), "\(text)")
            #expect(value.description == text)
            #expect(try FHIRDateTime(fhirJSON: .string(text)).fhirJSON == .string(text))
        }
        #expect(FHIRDateTime("2015-02-07T13:28:17.239+02:00")?.precision == .fractionalSecond)
        #expect(FHIRDateTime("2015-02-07T13:28:17+02:00")?.timeZoneOffset == 7200)
        #expect(FHIRDateTime("2015-13") == nil)
        #expect(FHIRDateTime("2015-02-07 13:28") == nil)
        #expect(FHIRInstant("2015-02-07T13:28:17Z")?.date == Date(timeIntervalSince1970: 1_423_315_697))
        #expect(FHIRInstant("2015-02-07T13:28:17") == nil)  // an instant needs a zone
        #expect(FHIRInstant("2015-02-07") == nil)
        #expect(FHIRTime("13:28:17.5")?.second == 17)
        #expect(FHIRTime("13:28") == nil)
        #expect(FHIRInstant(Date(timeIntervalSince1970: 1_423_315_697.25)).description == "2015-02-07T13:28:17.250Z")
        #expect(FHIRDate(Date(timeIntervalSince1970: 1_423_315_697)).description == "2015-02-07")
        #expect(FHIRDate(year: 1974, month: 12)?.description == "1974-12")
    }

    @Test func invalidDateIsRefusedWithItsExpression() {
        let error = decodeError(Patient.self, #"{"resourceType":"Patient","birthDate":"12/25/1974"}"#)
        #expect(error?.kind == .wrongType)
        #expect(error?.expression == "Patient.birthDate")
    }

    @Test func deceasedChoiceDecodesToTheRightCase() throws {
        let flag = try Patient(json: FHIRJSON.parse(#"{"resourceType":"Patient","deceasedBoolean":true}"#))
        guard case .boolean(let boolean) = flag.deceased else {
            Issue.record("expected .boolean, got \(String(describing: flag.deceased))")
            return
        }
        #expect(boolean.value == true)

        let date = try Patient(json: FHIRJSON.parse(#"{"resourceType":"Patient","deceasedDateTime":"2015-02-14T13:42:00+10:00"}"#))
        guard case .dateTime(let dateTime) = date.deceased else {
            Issue.record("expected .dateTime, got \(String(describing: date.deceased))")
            return
        }
        #expect(dateTime.value?.description == "2015-02-14T13:42:00+10:00")
        #expect(date.json()["deceasedDateTime"] == .string("2015-02-14T13:42:00+10:00"))
        #expect(date.json()["deceasedBoolean"] == nil)
    }

    @Test func twoTypesForOneChoiceAreRefused() {
        let error = decodeError(Patient.self, #"{"resourceType":"Patient","deceasedBoolean":true,"deceasedDateTime":"2015"}"#)
        #expect(error?.kind == .wrongType)
        #expect(error?.expression == "Patient.deceased[x]")
    }

    @Test func primitiveArrayWithNullsAndExtensionsRoundTrips() throws {
        let text = #"""
        {"resourceType":"Patient","name":[{"family":"Chalmers","given":["Peter",null,"James"],
        "_given":[null,{"id":"a3","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/qualifier","valueCode":"MID"}]},null]}]}
        """#
        let original = try FHIRJSON.parse(text)
        let patient = try Patient(json: original)
        let given = try #require(patient.name.first?.given)
        #expect(given.count == 3)
        #expect(given[0].value == "Peter")
        #expect(given[1].value == nil)
        #expect(given[1].id == "a3")
        #expect(given[1].extension.first?.url == "http://hl7.org/fhir/StructureDefinition/qualifier")
        guard case .code(let code) = given[1].extension.first?.value else {
            Issue.record("expected valueCode")
            return
        }
        #expect(code.value == "MID")
        #expect(given[2].value == "James")
        #expect(patient.json().isEquivalent(to: original))
    }

    @Test func primitiveWithOnlyAnExtensionRoundTrips() throws {
        let text = #"{"resourceType":"Patient","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]}}"#
        let patient = try Patient(json: FHIRJSON.parse(text))
        #expect(patient.birthDate?.value == nil)
        #expect(patient.birthDate?.extension.count == 1)
        #expect(FHIRJSON.string(patient.json()) == text)
    }

    @Test func unknownMemberIsRefusedWithItsExpression() {
        let error = decodeError(Patient.self, #"{"resourceType":"Patient","name":[{"family":"Chalmers"},{"family":"Windsor","nickname":"x"}]}"#)
        #expect(error?.kind == .unknownElement)
        #expect(error?.expression == "Patient.name[1].nickname")
        // The message names no document content.
        #expect(error?.description.contains("Windsor") == false)

        let top = decodeError(Patient.self, #"{"resourceType":"Patient","favouriteColour":"blue"}"#)
        #expect(top?.kind == .unknownElement)
        #expect(top?.expression == "Patient.favouriteColour")

        let orphan = decodeError(Patient.self, #"{"resourceType":"Patient","_name":{"id":"1"}}"#)
        #expect(orphan?.kind == .unknownElement)
        #expect(orphan?.expression == "Patient._name")
    }

    @Test func unknownMemberInsideABundleEntryIsLocated() {
        let text = #"{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","gender":"male","x":1}}]}"#
        let error = decodeError(FHIRModels.Bundle.self, text)
        #expect(error?.kind == .unknownElement)
        #expect(error?.expression == "Bundle.entry[0].resource.x")
    }

    @Test func wrongJSONKindsAreRefused() {
        let arrayForSingle = decodeError(Patient.self, #"{"resourceType":"Patient","gender":["male"]}"#)
        #expect(arrayForSingle?.kind == .wrongType)
        #expect(arrayForSingle?.expression == "Patient.gender")

        let singleForArray = decodeError(Patient.self, #"{"resourceType":"Patient","name":{"family":"Chalmers"}}"#)
        #expect(singleForArray?.kind == .wrongType)
        #expect(singleForArray?.expression == "Patient.name")

        let numberForString = decodeError(Patient.self, #"{"resourceType":"Patient","name":[{"given":["Peter",7]}]}"#)
        #expect(numberForString?.kind == .wrongType)
        #expect(numberForString?.expression == "Patient.name[0].given[1]")

        let stringForBoolean = decodeError(Patient.self, #"{"resourceType":"Patient","active":"true"}"#)
        #expect(stringForBoolean?.kind == .wrongType)
        #expect(stringForBoolean?.expression == "Patient.active")

        let fractionalInteger = decodeError(Patient.self, #"{"resourceType":"Patient","multipleBirthInteger":1.0}"#)
        #expect(fractionalInteger?.kind == .wrongType)
        #expect(fractionalInteger?.expression == "Patient.multipleBirthInteger")

        let emptyArray = decodeError(Patient.self, #"{"resourceType":"Patient","name":[]}"#)
        #expect(emptyArray?.kind == .wrongType)
        #expect(emptyArray?.expression == "Patient.name")
    }

    @Test func wrongOrMissingResourceTypeIsRefused() {
        let wrong = decodeError(Patient.self, #"{"resourceType":"Practitioner"}"#)
        #expect(wrong?.kind == .unknownResourceType)
        let missing = decodeError(Patient.self, #"{"gender":"male"}"#)
        #expect(missing?.kind == .unknownResourceType)
    }

    @Test func missingRequiredElementIsRefused() {
        let error = decodeError(Encounter.self, #"{"resourceType":"Encounter","class":{"code":"AMB"}}"#)
        #expect(error?.kind == .missingElement)
        #expect(error?.expression == "Encounter.status")
        #expect(error?.issue.code == .required)

        let choice = decodeError(MedicationRequest.self, #"{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"}}"#)
        #expect(choice?.kind == .missingElement)
        #expect(choice?.expression == "MedicationRequest.medication[x]")
    }

    @Test func untypedResourcesAreKeptAsJSON() throws {
        let text = #"{"resourceType":"Observation","status":"final","valueQuantity":{"value":1.50}}"#
        let json = try FHIRJSON.parse(text)
        let resource = try AnyFHIRResource(json: json)
        #expect(resource == .other(json))
        #expect(resource.resourceType == "Observation")
        #expect(FHIRJSON.string(resource.json()) == text)
    }

    @Test func encodingFollowsSpecificationOrder() throws {
        let text = #"{"gender":"male","name":[{"given":["Peter"],"family":"Chalmers"}],"id":"1","resourceType":"Patient"}"#
        let patient = try Patient(json: FHIRJSON.parse(text))
        #expect(FHIRJSON.string(patient.json()) == #"{"resourceType":"Patient","id":"1","name":[{"family":"Chalmers","given":["Peter"]}],"gender":"male"}"#)
    }

    @Test func memberwiseInitializersBuildResources() throws {
        let request = MedicationRequest(
            status: "active",
            intent: "order",
            medication: .codeableConcept(CodeableConcept(text: "Amoxicillin 500 mg")),
            subject: Reference(reference: "Patient/123"),
            authoredOn: FHIRPrimitive(FHIRDateTime("2024-03-01")),
            dispenseRequest: MedicationRequest.DispenseRequest(numberOfRepeatsAllowed: 2)
        )
        let json = request.json()
        #expect(json["medicationCodeableConcept"]?["text"] == .string("Amoxicillin 500 mg"))
        #expect(json["dispenseRequest"]?["numberOfRepeatsAllowed"] == .number("2"))
        #expect(try MedicationRequest(json: json) == request)

        let resource = AnyFHIRResource(request)
        #expect(resource == .medicationRequest(request))
        #expect(resource.resourceType == "MedicationRequest")
        #expect(try AnyFHIRResource(json: resource.json()) == resource)
    }

    @Test func recursiveTypesNest() throws {
        let text = #"{"value":"1","assigner":{"identifier":{"value":"2","assigner":{"display":"Org"}}}}"#
        let identifier = try Identifier(json: FHIRJSON.parse(text))
        #expect(identifier.assigner?.identifier?.assigner?.display?.value == "Org")
        #expect(FHIRJSON.string(identifier.json()) == text)
    }
}
