import FHIRModels
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import Server

/// The platform API walked end to end through its public HTTP interface, as the apps use it:
/// registration and approval, booking, a medical record and a prescription, a bill, the
/// patient's own view (and not another's), cancellation, and logout.
@Suite struct PlatformScenarioTests {
    @Test func hospitalDayThroughThePlatformAPI() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let accounts = Accounts(client: client, security: security)

            // 1. A patient and a doctor register; 2. an admin approves the doctor.
            let patient = try await accounts.patient("pat@example.org", first: "Paula", last: "Quinn")
            let other = try await accounts.patient("other@example.org", first: "Otto", last: "Rand")
            let pending = try await accounts.register(email: "doc@example.org", role: "doctor")
            #expect(pending.status == .created)
            #expect(try pending.json["status"]?.stringValue == "pending")
            let pendingLogin = try await accounts.login(email: "doc@example.org")
            #expect(pendingLogin.status != .ok, "a doctor cannot sign in before approval")
            let admin = try await accounts.admin("admin@example.org")
            let doctorUser = try #require(try pending.json["id"]?.stringValue)
            #expect(try await client.send(.post, "/admin/users/\(doctorUser)/approve", headers: admin.headers).status == .ok)
            let doctor = try await accounts.session(email: "doc@example.org")
            let patientID = patient.resourceID
            let doctorID = doctor.resourceID

            // The registered people are records of the platform API too.
            let ownPatient = try await Platform.call(client, .get, "/patients/\(patientID)", as: patient)
            #expect(ownPatient.status == .ok)
            #expect(try ownPatient.json["firstName"]?.stringValue == "Paula")
            #expect(try ownPatient.json["lastName"]?.stringValue == "Quinn")
            let ownDoctor = try await Platform.call(client, .get, "/doctors/\(doctorID)", as: doctor)
            #expect(try ownDoctor.json["id"]?.stringValue == doctorID)

            // 3. The doctor books an appointment, writes a medical record and a prescription.
            let booked = try await Platform.call(client, .post, "/appointments", as: doctor, body: [
                "patientId": .string(patientID), "doctorId": .string(doctorID), "dateTime": "2026-12-01T09:30:00Z",
                "reasonForVisit": "Persistent cough", "status": "scheduled", "notes": "Bring previous X-rays",
            ])
            try #require(booked.status == .created, "\(booked.text)")
            let appointmentID = try #require(try booked.json["id"]?.stringValue)
            #expect(booked.headers[.location] == "/appointments/\(appointmentID)")
            #expect(try booked.json["status"]?.stringValue == "scheduled")

            let recorded = try await Platform.call(client, .post, "/medical-records", as: doctor, body: [
                "patientId": .string(patientID), "diagnosis": "Acute bronchitis", "treatment": "Rest and fluids",
                "notes": "Review in two weeks",
                "procedures": [["description": "Chest auscultation", "date": "2026-12-01"]],
                "prescriptions": [["description": "Amoxicillin 500 mg"]], "testResults": [], "allergies": [["description": "Penicillin", "code": "91936005"]],
                "immunizations": [],
            ])
            try #require(recorded.status == .created, "\(recorded.text)")
            let recordID = try #require(try recorded.json["id"]?.stringValue)
            #expect(try recorded.json["createdAt"]?.stringValue != nil)
            #expect(try recorded.json["allergies"]?[0]?["code"]?.stringValue == "91936005")

            let prescribed = try await Platform.call(client, .post, "/prescriptions", as: doctor, body: [
                "patientId": .string(patientID), "doctorId": .string(doctorID), "dateIssued": "2026-12-01",
                "medication": "Amoxicillin 500 mg", "dosage": "500 mg three times daily", "instructions": "Take with food",
                "refills": 1,
            ])
            try #require(prescribed.status == .created, "\(prescribed.text)")
            let prescriptionID = try #require(try prescribed.json["id"]?.stringValue)
            #expect(try prescribed.json["refills"]?.numberLexical == "1")

            // 4. Billing bills the appointment.
            let hash = try await security.hasher.hash(Accounts.password)
            try #require(try await security.identities.insertUser(
                id: UUID().uuidString.lowercased(), email: "billing@example.org", passwordHash: hash, role: .billing, status: .active,
                fhirUser: nil))
            let billing = try await accounts.session(email: "billing@example.org")
            let billed = try await Platform.call(client, .post, "/billings", as: billing, body: [
                "patientId": .string(patientID), "appointmentId": .string(appointmentID), "date": "2026-12-01",
                "amount": ["value": "150.00", "currency": "USD"], "insuranceCoverage": ["value": "120.00", "currency": "USD"],
                "outstandingAmount": ["value": "30.00", "currency": "USD"], "status": "pending",
            ])
            try #require(billed.status == .created, "\(billed.text)")
            let billingID = try #require(try billed.json["id"]?.stringValue)
            #expect(try billed.json["outstandingAmount"]?["value"]?.stringValue == "30.00")
            // Billing sees bills and demographics, not clinical content.
            #expect(try await Platform.call(client, .get, "/patients/\(patientID)", as: billing).status == .ok)
            #expect(try await Platform.call(client, .get, "/medical-records/\(recordID)", as: billing).status == .notFound)

            // 5. The patient reads their own record and bill, but not another patient's.
            let myRecord = try await Platform.call(client, .get, "/medical-records/\(recordID)", as: patient)
            #expect(myRecord.status == .ok)
            #expect(try myRecord.json["diagnosis"]?.stringValue == "Acute bronchitis")
            let myBill = try await Platform.call(client, .get, "/billings/\(billingID)", as: patient)
            #expect(myBill.status == .ok)
            #expect(try myBill.json["amount"]?["value"]?.stringValue == "150.00")
            let myPrescription = try await Platform.call(client, .get, "/prescriptions/\(prescriptionID)", as: patient)
            #expect(try myPrescription.json["medication"]?.stringValue == "Amoxicillin 500 mg")
            #expect(try await Platform.call(client, .get, "/patients/\(other.resourceID)", as: patient).status == .notFound)
            let otherRecord = try await Platform.call(client, .post, "/medical-records", body: [
                "patientId": .string(other.resourceID), "diagnosis": "Sprained ankle",
            ])
            try #require(otherRecord.status == .created, "\(otherRecord.text)")
            let otherRecordID = try #require(try otherRecord.json["id"]?.stringValue)
            let denied = try await Platform.call(client, .get, "/medical-records/\(otherRecordID)", as: patient)
            #expect(denied.status == .notFound, "another patient's record looks absent")
            #expect(try denied.json["error"]?["code"]?.stringValue == "not_found")
            let myRecords = try await Platform.call(client, .get, "/medical-records", as: patient)
            #expect(try myRecords.json["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [recordID])
            let theirs = try await Platform.call(client, .get, "/medical-records?patientId=\(other.resourceID)", as: patient)
            #expect(try theirs.json["items"]?.arrayValue?.isEmpty == true)

            // 6. The appointment is cancelled: the record is kept, with the new status, on both faces.
            let canceled = try await Platform.call(client, .delete, "/appointments/\(appointmentID)", as: doctor)
            #expect(canceled.status == .ok, "\(canceled.text)")
            #expect(try canceled.json["appointment"]?["status"]?.stringValue == "canceled")
            #expect(try canceled.json["message"]?.stringValue?.contains("canceled") == true)
            let afterCancel = try await Platform.call(client, .get, "/appointments/\(appointmentID)", as: doctor)
            #expect(afterCancel.status == .ok)
            #expect(try afterCancel.json["status"]?.stringValue == "canceled")
            #expect(try afterCancel.json["reasonForVisit"]?.stringValue == "Persistent cough")
            let encounter = try await client.send(.get, "/fhir/Encounter/\(appointmentID)")
            #expect(try encounter.json["status"]?.stringValue == "cancelled")

            // Every access above was audited, with the patient it concerned.
            let patientEvents = try await AuditTrail.events(agent: patient.userID, endpoint: endpoint)
            #expect(patientEvents.contains { AuditTrail.outcome($0) == "0" && AuditTrail.entityReferences($0).contains("Composition/\(recordID)/_history/1") })
            #expect(patientEvents.contains { AuditTrail.outcome($0) != "0" && AuditTrail.entityReferences($0).contains("Patient/\(other.resourceID)") })
            let doctorEvents = try await AuditTrail.events(agent: doctor.userID, endpoint: endpoint)
            #expect(doctorEvents.contains { AuditTrail.subtype($0) == "create" && AuditTrail.entityReferences($0).contains("Encounter/\(appointmentID)/_history/1") })

            // 7. Everyone logs out, and their tokens stop working.
            for session in [patient, doctor, billing, admin] {
                #expect(try await client.send(.post, "/auth/logout", headers: session.headers).status == .noContent)
                let after = try await Platform.call(client, .get, "/patients/\(patientID)", as: session)
                #expect(after.status == .unauthorized)
                #expect(try after.json["error"]?["code"]?.stringValue == "invalid_token")
            }
        }
    }
}

/// Calls on the platform face, as a given user or as the suite's system client.
enum Platform {
    static func call(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, as session: Accounts.Session? = nil,
        body: JSONValue? = nil, headers: HTTPFields = [:]
    ) async throws -> FHIRTestResponse {
        var fields = headers
        if let session { fields[.authorization] = "Bearer \(session.accessToken)" }
        if body != nil { fields[.contentType] = "application/json" }
        return try await client.send(method, uri, headers: fields, body: body.map { FHIRJSON.serialize($0) })
    }

    /// The ids in a list response.
    static func ids(_ response: FHIRTestResponse) throws -> [String] {
        try response.json["items"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
    }
}
