import FHIRModels
import FixtureSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import Server

/// The list routes' filters and paging on real Synthea records, with the expected answers
/// computed from the raw bundles, and the same access rules as the FHIR face.
@Suite struct PlatformListTests {
    /// Every id a list answers, walking `nextCursor` pages of `limit`.
    static func walk(_ client: any TestClientProtocol, _ path: String, limit: Int = 9, as session: Accounts.Session? = nil) async throws -> [String] {
        var ids: [String] = []
        let separator = path.contains("?") ? "&" : "?"
        var next: String? = "\(path)\(separator)limit=\(limit)"
        while let page = next {
            let response = try await Platform.call(client, .get, page, as: session)
            try #require(response.status == .ok, "\(page): \(response.text)")
            let pageIDs = try Platform.ids(response)
            #expect(pageIDs.count <= limit)
            ids += pageIDs
            next = try response.json["nextCursor"]?.stringValue.map { "\(path)\(separator)limit=\(limit)&cursor=\($0)" }
        }
        #expect(ids.count == Set(ids).count, "\(path): a record on two pages")
        return ids
    }

    static func ids(_ data: SyntheaSearchData, _ type: String, where predicate: (JSONValue) -> Bool) -> Set<String> {
        Set(data.byReference.filter { $0.key.hasPrefix("\(type)/") && predicate($0.value) }.map { String($0.key.dropFirst(type.count + 1)) })
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func filtersFindWhatTheBundlesHold() async throws {
        try await TestApp.run { client in
            let data = try SyntheaSearchData.load()
            for bundle in data.bundles {
                let imported = try await client.sendJSON(.post, "/fhir", bundle)
                try #require(imported.status == .ok, "\(imported.text)")
            }
            let patient = data.patientIDs[4]
            let subject = "Patient/\(patient)"

            // Patients by date of birth; every patient when unfiltered.
            let born = try #require(data.byReference[subject]?["birthDate"]?.stringValue)
            let sameDay = Self.ids(data, "Patient") { $0["birthDate"]?.stringValue == born }
            #expect(Set(try await Self.walk(client, "/patients?dateOfBirth=\(born)")) == sameDay)
            #expect(Set(try await Self.walk(client, "/patients")) == Set(data.patientIDs))

            // Records, prescriptions and bills by patient.
            #expect(Set(try await Self.walk(client, "/prescriptions?patientId=\(patient)"))
                == Self.ids(data, "MedicationRequest") { $0["subject"]?["reference"]?.stringValue == subject })
            #expect(Set(try await Self.walk(client, "/billings?patientId=\(patient)"))
                == Self.ids(data, "Claim") { $0["patient"]?["reference"]?.stringValue == subject })
            #expect(try await Self.walk(client, "/medical-records?patientId=\(patient)").isEmpty, "Synthea has no Compositions")

            // Appointments by patient, doctor, status and time window.
            let encounters = data.byReference.filter { $0.key.hasPrefix("Encounter/") && $0.value["subject"]?["reference"]?.stringValue == subject }
            #expect(Set(try await Self.walk(client, "/appointments?patientId=\(patient)"))
                == Set(encounters.keys.map { String($0.dropFirst("Encounter/".count)) }))
            let doctors = encounters.values.compactMap { $0["participant"]?[0]?["individual"]?["reference"]?.stringValue }
            let doctorReference = try #require(doctors.first)
            let doctor = String(doctorReference.dropFirst("Practitioner/".count))
            let byDoctor = Self.ids(data, "Encounter") { encounter in
                (encounter["participant"]?.arrayValue ?? []).contains { $0["individual"]?["reference"]?.stringValue == doctorReference }
            }
            #expect(Set(try await Self.walk(client, "/appointments?doctorId=\(doctor)")) == byDoctor)
            #expect(Set(try await Self.walk(client, "/appointments?patientId=\(patient)&status=completed"))
                == Set(encounters.filter { $0.value["status"]?.stringValue == "finished" }.keys.map { String($0.dropFirst("Encounter/".count)) }))
            #expect(try await Self.walk(client, "/appointments?patientId=\(patient)&status=canceled").isEmpty)

            // A window on the start time: from ≤ period.start < to.
            let starts = encounters.compactMap { key, value -> (String, Date)? in
                guard let text = value["period"]?["start"]?.stringValue, let date = PlatformDates.instant(text) else { return nil }
                return (String(key.dropFirst("Encounter/".count)), date)
            }.sorted { $0.1 < $1.1 }
            try #require(starts.count >= 4)
            let from = starts[1].1, to = starts[starts.count - 2].1
            let expected = Set(starts.filter { $0.1 >= from && $0.1 < to }.map(\.0))
            let formatter = ISO8601DateFormatter()
            let window = "/appointments?patientId=\(patient)&from=\(SyntheaSearchData.encode(formatter.string(from: from)))&to=\(SyntheaSearchData.encode(formatter.string(from: to)))"
            #expect(Set(try await Self.walk(client, window)) == expected)
            #expect(!expected.isEmpty)

            // Each item is the platform object.
            let first = try await Platform.call(client, .get, "/appointments?patientId=\(patient)&limit=1")
            let item = try #require(try first.json["items"]?[0])
            #expect(item["patientId"]?.stringValue == patient)
            #expect(item["dateTime"]?.stringValue != nil)
            #expect(["scheduled", "completed", "canceled"].contains(item["status"]?.stringValue ?? ""))
        }
    }

    @Test func listsFollowTheAccessRulesOfTheFHIRFace() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let accounts = Accounts(client: client, security: security)
            let alice = try await accounts.patient("alice@example.org", first: "Alice", last: "Ames")
            let bob = try await accounts.patient("bob@example.org", first: "Bob", last: "Burns")
            let admin = try await accounts.admin("admin@example.org")
            let doctor = try await accounts.doctor("doc@example.org", approvedBy: admin)
            // The doctor books Alice only; Bob's appointment is with nobody the doctor knows.
            let mine = try await Platform.call(client, .post, "/appointments", as: doctor, body: [
                "patientId": .string(alice.resourceID), "doctorId": .string(doctor.resourceID), "dateTime": "2026-12-01T09:00:00Z",
                "status": "scheduled",
            ])
            try #require(mine.status == .created, "\(mine.text)")
            let otherDoctor = try await Platform.call(client, .post, "/doctors", body: ["firstName": "Oth", "lastName": "Er"])
            let bobs = try await Platform.call(client, .post, "/appointments", body: [
                "patientId": .string(bob.resourceID), "doctorId": .string(try #require(try otherDoctor.json["id"]?.stringValue)),
                "dateTime": "2026-12-01T10:00:00Z", "status": "scheduled",
            ])
            try #require(bobs.status == .created)
            let mineID = try #require(try mine.json["id"]?.stringValue)
            let bobsID = try #require(try bobs.json["id"]?.stringValue)

            // Patients see their own; a filter on someone else finds nothing.
            #expect(try await Self.walk(client, "/appointments", as: alice) == [mineID])
            #expect(try await Self.walk(client, "/appointments?patientId=\(bob.resourceID)", as: alice).isEmpty)
            #expect(try await Self.walk(client, "/patients", as: alice) == [alice.resourceID])
            // The doctor sees their patient, not Bob, unless they break the glass (audited).
            #expect(try await Self.walk(client, "/appointments", as: doctor) == [mineID])
            #expect(try await Platform.call(client, .get, "/appointments/\(bobsID)", as: doctor).status == .notFound)
            // What the doctor may not see is left out in the database: pages are full, the last
            // page has no cursor, and FHIR totals count only what they may see.
            for _ in 0..<3 {
                let more = try await Platform.call(client, .post, "/appointments", body: [
                    "patientId": .string(bob.resourceID), "doctorId": .string(try #require(try otherDoctor.json["id"]?.stringValue)),
                    "dateTime": "2026-12-02T10:00:00Z", "status": "scheduled",
                ])
                try #require(more.status == .created)
            }
            let page = try await Platform.call(client, .get, "/appointments?limit=1", as: doctor)
            #expect(try Platform.ids(page) == [mineID])
            #expect(try page.json["nextCursor"] == nil, "a doctor's last visible record ends the list")
            let total = try await client.send(.get, "/fhir/Encounter?_total=accurate", headers: doctor.headers).json
            #expect(total["total"]?.numberLexical == "1")
            #expect(try await Self.walk(client, "/appointments?patientId=\(bob.resourceID)", as: doctor).isEmpty)
            let doctorEvents = try await AuditTrail.events(agent: doctor.userID, endpoint: endpoint)
            #expect(doctorEvents.contains {
                AuditTrail.outcome($0) != "0" && AuditTrail.entityReferences($0).contains("Patient/\(bob.resourceID)")
            }, "asking for a patient outside one's care is audited as a denial")
            let glass = try await Platform.call(client, .get, "/appointments/\(bobsID)", as: doctor, headers: [.breakGlass: "unconscious patient in ED"])
            #expect(glass.status == .ok)
            // A patient cannot write clinical records; the doctor cannot edit Bob's without care.
            let denied = try await Platform.call(client, .post, "/prescriptions", as: alice, body: [
                "patientId": .string(alice.resourceID), "doctorId": .string(doctor.resourceID), "dateIssued": "2026-12-01",
                "medication": "Anything", "refills": 0,
            ])
            #expect(denied.status == .forbidden)
            #expect(try denied.json["error"]?["code"]?.stringValue == "forbidden")
            // Nor can they learn from a 422 whether a record exists: the 403 comes first.
            let probe = try await Platform.call(client, .post, "/prescriptions", as: alice, body: [
                "patientId": "no-such-patient", "doctorId": "no-such-doctor", "dateIssued": "2026-12-01", "medication": "x",
                "refills": 0,
            ])
            #expect(probe.status == .forbidden, "\(probe.text)")
            let edit = try await Platform.call(client, .put, "/appointments/\(bobsID)", as: doctor, body: [
                "patientId": .string(bob.resourceID), "doctorId": .string(doctor.resourceID), "dateTime": "2026-12-01T10:00:00Z",
                "status": "completed",
            ])
            #expect(edit.status == .forbidden)
            // Admins manage users, not records.
            #expect(try await Platform.call(client, .get, "/patients/\(alice.resourceID)", as: admin).status == .notFound)
            let adminList = try await Platform.call(client, .get, "/patients", as: admin)
            let adminSees = adminList.status == .forbidden ? [] : try Platform.ids(adminList)
            #expect(adminSees.isEmpty, "\(adminList.text)")
        }
    }
}
