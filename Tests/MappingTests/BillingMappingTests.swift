import FHIRModels
import FixtureSupport
import Foundation
import Mapping
import PropertyBased
import Testing

@Suite struct BillingMappingTests {
    @Test func newBillingRoundTrips() async {
        await propertyCheck(count: 300, input: Generators.billing) { billing in
            MappingLaws.roundTrip(billing)
        }
    }

    @Test func updateReadsBackAsTheNewBilling() async {
        await propertyCheck(count: 300, input: Generators.billing, Generators.billing) { original, update in
            MappingLaws.update(original, to: update)
        }
    }

    @Test func newBillingIsAValidProfessionalClaim() throws {
        let billing = BillingDTO(
            patientID: "p1", appointmentID: "e1", date: "2026-11-29",
            amount: MoneyAmount(value: "150.00", currency: "USD"),
            insuranceCoverage: MoneyAmount(value: "100.00", currency: "USD"),
            outstandingAmount: MoneyAmount(value: "50.00", currency: "USD"),
            status: .pending
        )
        let expected = try FHIRJSON.parse(#"""
        {"resourceType": "Claim", "status": "active",
         "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]},
         "use": "claim", "patient": {"reference": "Patient/p1"}, "created": "2026-11-29",
         "provider": {"display": "medical-records"},
         "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
         "insurance": [{"sequence": 1, "focal": true, "coverage": {"display": "self-pay"}}],
         "item": [{"sequence": 1, "productOrService": {"text": "Appointment"}, "encounter": [{"reference": "Encounter/e1"}]}],
         "total": {"value": 150.00, "currency": "USD"},
         "extension": [
           {"url": "https://medical-records.example/fhir/StructureDefinition/claim-insurance-coverage", "valueMoney": {"value": 100.00, "currency": "USD"}},
           {"url": "https://medical-records.example/fhir/StructureDefinition/claim-outstanding-amount", "valueMoney": {"value": 50.00, "currency": "USD"}},
           {"url": "https://medical-records.example/fhir/StructureDefinition/claim-payment-status", "valueCode": "pending"}]}
        """#)
        let resource = billing.fhir(mergingInto: nil, context: MappingContext())
        #expect(resource.isEquivalent(to: expected), "\(FHIRCheck.differences(expected, resource))")
        #expect(FHIRJSON.string(resource).contains(#""value":150.00"#), "the decimal keeps its two places")
        #expect(billing.references == [
            PlatformReference(field: "patientId", type: "Patient", id: "p1"),
            PlatformReference(field: "appointmentId", type: "Encounter", id: "e1"),
        ])
    }

    @Test func theServerMayNameTheDoctorAndTheInsurer() {
        let billing = BillingDTO(patientID: "p1", date: "2026-11-29", amount: MoneyAmount(value: "10", currency: "EUR"),
                                 insuranceCoverage: MoneyAmount(value: "0", currency: "EUR"),
                                 outstandingAmount: MoneyAmount(value: "10", currency: "EUR"), status: .paid)
        let context = MappingContext(billingProviderPractitionerID: "d1", billingInsuranceProvider: "Acme Health")
        let resource = billing.fhir(mergingInto: nil, context: context)
        #expect(resource["provider"] == ["reference": "Practitioner/d1"])
        #expect(resource["insurance"] == [["sequence": 1, "focal": true, "coverage": ["display": "Acme Health"]]])
        #expect(resource["item"] == nil, "no appointment, no item")
        #expect(FHIRCheck.problems(resource) == [])
    }

    @Test func paymentIsRecordedWithoutTouchingTheClaimItems() throws {
        let stored = FHIRCheck.stored(BillingDTO(
            patientID: "p1", appointmentID: "e1", date: "2026-11-29",
            amount: MoneyAmount(value: "80.5", currency: "CHF"), insuranceCoverage: MoneyAmount(value: "0.5", currency: "CHF"),
            outstandingAmount: MoneyAmount(value: "80.0", currency: "CHF"), status: .pending
        ).fhir(mergingInto: nil, context: MappingContext()), id: "c1")
        var billing = BillingDTO(fhir: stored)
        billing.status = .paid
        let updated = billing.fhir(mergingInto: stored, context: MappingContext())
        #expect(FHIRCheck.differences(stored, updated) == ["extension[2].valueCode"])
        #expect(BillingDTO(fhir: updated).status == .paid)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func fixturesMergeBackUnchanged() throws {
        let fixtures = try FixtureResource.all(ofType: "Claim")
        #expect(fixtures.count > Fixtures.expected(full: 650, vendored: 105))
        MappingLaws.mergeKeepsEverything(BillingDTO.self, fixtures)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func anyBillingWrittenOverFixturesReadsBackAndKeepsForeignContent() async throws {
        let fixtures = try FixtureResource.all(ofType: "Claim")
        await propertyCheck(count: 5, input: Generators.billing) { billing in
            for fixture in fixtures {
                MappingLaws.writeOverForeign(billing, fixture, mapped: ["patient", "created", "item", "total"])
            }
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func fixturesReadAsBodiesUnlessRequiredFieldsAreMissing() throws {
        let fixtures = try FixtureResource.all(ofType: "Claim")
        MappingLaws.fixturesDecode(
            BillingDTO.self, fixtures,
            required: ["patientId", "date", "amount", "insuranceCoverage", "outstandingAmount", "status"]
        )
        // Foreign claims carry no platform payment extensions: what they do carry still reads.
        let synthea = try FixtureResource.synthea(ofType: "Claim")
        #expect(synthea.allSatisfy { BillingDTO(fhir: $0.resource).amount?.currency == "USD" && BillingDTO(fhir: $0.resource).patientID != nil })
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func recordingAPaymentOnAForeignClaimAddsOnlyTheStatusExtension() throws {
        for fixture in try FixtureResource.all(ofType: "Claim") {
            // A list that grows differs as a whole; its last element is checked below.
            MappingLaws.changeTouchesOnly(fixture, { (billing: inout BillingDTO) in billing.status = .paid }, paths: ["extension"])
            var billing = BillingDTO(fhir: fixture.resource)
            billing.status = .paid
            let merged = billing.fhir(mergingInto: fixture.resource, context: MappingContext())
            #expect(merged["extension"]?.arrayValue?.last == [
                "url": .string(PlatformProfiles.claimPaymentStatus), "valueCode": "paid",
            ])
        }
    }
}
