import FHIRModels
import FixtureSupport
import Foundation
import PostgresNIO
import Testing
@testable import Server

/// The patient index: a doctor finds any patient by name, birth date or identifier (an index
/// view, nothing clinical, no contact data), audited as a search; it grants no read of the
/// Patient itself; every other role is refused, audited as a denial.
@Suite("Patient index service", .enabled(if: Fixtures.available, Fixtures.absentReason))
struct PatientIndexServiceTests {
    @Test func aDoctorFindsAnyPatientByNameBirthDateOrIdentifierAndNothingMore() async throws {
        try await RecordServiceTests.withWorld { world in
            let index = PatientIndexService(store: world.records.store, security: world.records.security)
            let doctor = try RecordServiceTests.caller(.doctor, ("Practitioner", "index-doctor"), scopes: "user/*.cruds")
            let patient = try #require(try await world.records.read(type: "Patient", id: world.patientID, as: RecordServiceTests.system).resource())
            let family = try #require(patient["name"]?[0]?["family"]?.stringValue)
            let birthDate = try #require(patient["birthDate"]?.stringValue)
            let mrn = try #require((patient["identifier"]?.arrayValue ?? []).first {
                $0["type"]?["coding"]?[0]?["code"]?.stringValue == "MR"
            }?["value"]?.stringValue)

            let byName = try await index.search(.init(name: String(family.prefix(4))), as: doctor)
            #expect(byName.map(\.id).contains(world.patientID))
            #expect(!byName.map(\.id).contains(world.otherPatientID))
            let byDate = try await index.search(.init(birthDate: birthDate), as: doctor)
            #expect(byDate.map(\.id) == [world.patientID])
            let byMRN = try await index.search(.init(identifier: mrn), as: doctor)
            #expect(byMRN.map(\.id) == [world.patientID])
            let entry = try #require(byMRN.first)
            #expect(entry.birthDate == birthDate)
            #expect(entry.identifiers.contains { $0.value == mrn })
            // An index entry has no place for contact data or anything clinical.
            #expect(Set(Mirror(reflecting: entry).children.compactMap(\.label)) == ["id", "name", "birthDate", "gender", "identifiers"])

            // Audited as searches of Patient with the query and the patients found.
            let audited = try await world.count(
                "SELECT count(*)::int FROM audit_event WHERE subtype = 'search-type' AND outcome = '0' AND entity_type = 'Patient' AND $1 = ANY(patient_ids) AND query LIKE 'identifier=%'",
                world.patientID)
            #expect(audited == 1)

            // Finding is not reading: the Patient stays hidden from a doctor without a relationship.
            let read = await RecordServiceTests.denial {
                _ = try await world.records.read(type: "Patient", id: world.patientID, as: doctor)
            }
            #expect(read == .hidden)
        }
    }

    @Test func everyOtherRoleIsRefusedAndTheRefusalAudited() async throws {
        try await RecordServiceTests.withWorld { world in
            let index = PatientIndexService(store: world.records.store, security: world.records.security)
            let callers = [
                try RecordServiceTests.caller(.patient, ("Patient", world.otherPatientID), scopes: "patient/*.rs"),
                try RecordServiceTests.caller(.billing, nil, scopes: "user/*.cruds"),
                try RecordServiceTests.caller(.admin, nil, scopes: "user/*.cruds"),
            ]
            for caller in callers {
                let refused = await RecordServiceTests.denial { _ = try await index.search(.init(name: "Toy"), as: caller) }
                #expect(refused == .forbidden, "\(caller.principal.role)")
            }
            let denials = try await world.count(
                "SELECT count(*)::int FROM audit_event WHERE subtype = 'search-type' AND outcome = '4' AND entity_type = 'Patient' AND outcome_desc LIKE $1",
                "denied: patient index%")
            #expect(denials == 3)
            // An empty or malformed query is refused before anything is searched.
            let doctor = try RecordServiceTests.caller(.doctor, ("Practitioner", "index-doctor"), scopes: "user/*.cruds")
            await #expect(throws: PatientIndexService.InvalidQuery.self) { _ = try await index.search(.init(), as: doctor) }
            await #expect(throws: PatientIndexService.InvalidQuery.self) { _ = try await index.search(.init(birthDate: "5/12/2026"), as: doctor) }
        }
    }
}
