import FHIRModels
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing
import Mapping
@testable import Server

/// A patient requests, books and cancels their own appointments, on both faces, through the
/// services' rules (`PatientAppointments`, `AppointmentBooking`): only in their own compartment,
/// only in a free slot of the doctor's working hours, only cancelling afterwards. Booking gives
/// the doctor access for as long as the appointment stands.
@Suite struct AppointmentBookingTests {
    struct World {
        let client: any TestClientProtocol
        let endpoint: DatabaseEndpoint
        let accounts: Accounts
        let patient: Accounts.Session
        let other: Accounts.Session
        let doctor: Accounts.Session
        /// A doctor with no working hours at all.
        let idle: Accounts.Session
    }

    /// Patients P (Paula) and Q (Quentin); doctor D works Monday to Friday, 09:00 to 17:00 (UTC,
    /// the default schedule zone), set by the suite's system client; doctor I has no hours.
    static func world(_ client: any TestClientProtocol, _ endpoint: DatabaseEndpoint, _ security: SecurityServices) async throws -> World {
        let accounts = Accounts(client: client, security: security)
        let patient = try await accounts.patient("paula@example.org", first: "Paula", last: "Pryce")
        let other = try await accounts.patient("quentin@example.org", first: "Quentin", last: "Quist")
        let admin = try await accounts.admin("admin@example.org")
        let doctor = try await accounts.doctor("doc@example.org", approvedBy: admin)
        let idle = try await accounts.doctor("idle@example.org", approvedBy: admin)
        let schedule = try await Platform.call(client, .put, "/doctors/\(doctor.resourceID)", body: [
            "firstName": "Greg", "lastName": "House", "specialization": "Diagnostics",
            "workSchedule": [["daysOfWeek": ["mon", "tue", "wed", "thu", "fri"], "startTime": "09:00", "endTime": "17:00"]],
        ])
        try #require(schedule.status == .ok, "\(schedule.text)")
        return World(client: client, endpoint: endpoint, accounts: accounts, patient: patient, other: other, doctor: doctor, idle: idle)
    }

    /// `YYYY-MM-DDThh:mm:00Z` of the first `weekday` (1 = Sunday … 7 = Saturday) at least two
    /// weeks from now, so it is always in the future.
    static func upcoming(_ weekday: Int, _ hour: Int, _ minute: Int = 0) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var day = calendar.startOfDay(for: Date().addingTimeInterval(14 * 24 * 3600))
        while calendar.component(.weekday, from: day) != weekday { day = day.addingTimeInterval(24 * 3600) }
        let parts = calendar.dateComponents([.year, .month, .day], from: day)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.year!)-\(two(parts.month!))-\(two(parts.day!))T\(two(hour)):\(two(minute)):00Z"
    }

    static let monday10 = upcoming(2, 10)

    static func booking(_ patient: String, _ doctor: String?, _ dateTime: String?, reason: String = "Persistent cough") -> JSONValue {
        var body: JSONObject = ["patientId": .string(patient), "status": "scheduled", "reasonForVisit": .string(reason)]
        if let doctor { body["doctorId"] = .string(doctor) }
        if let dateTime { body["dateTime"] = .string(dateTime) }
        return .object(body)
    }

    static func encounter(_ patient: String, _ doctor: String?, start: String?, status: String = "planned") -> JSONValue {
        var object: JSONObject = [
            "resourceType": "Encounter", "status": .string(status),
            "class": ["system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"],
            "subject": ["reference": .string("Patient/\(patient)")],
            "reasonCode": [["text": "Headache"]],
        ]
        if let doctor { object["participant"] = [["individual": ["reference": .string("Practitioner/\(doctor)")]]] }
        if let start { object["period"] = ["start": .string(start)] }
        return .object(object)
    }

    static func fhir(_ session: Accounts.Session, _ contentType: String = "application/fhir+json") -> HTTPFields {
        var headers = session.headers
        headers[.contentType] = contentType
        return headers
    }

    /// How many Encounters the store holds (as the system client sees them).
    static func encounterCount(_ client: any TestClientProtocol) async throws -> Int {
        let bundle = try await client.send(.get, "/fhir/Encounter?_summary=count").json
        return Int(bundle["total"]?.numberLexical ?? "-1") ?? -1
    }

    static func careRows(_ endpoint: DatabaseEndpoint, doctor: String, patient: String) async throws -> Int {
        try await endpoint.withConnection(logger: TestApp.logger) { connection in
            let rows = try await connection.query(
                "SELECT count(*)::int FROM care_relationship WHERE practitioner_id = \(doctor) AND patient_id = \(patient)",
                logger: TestApp.logger)
            var count = -1
            for try await value in rows.decode(Int.self) { count = value }
            return count
        }
    }

    // MARK: - Booking

    @Test(.timeLimit(.minutes(3))) func aPatientBooksAFreeSlotAndTheDoctorThenReadsTheirRecord() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let world = try await Self.world(client, endpoint, security)
            let (patient, doctor) = (world.patient, world.doctor)
            // No care relationship yet: the doctor does not see the patient.
            #expect(try await Platform.call(client, .get, "/patients/\(patient.resourceID)", as: doctor).status == .notFound)

            let booked = try await Platform.call(
                client, .post, "/appointments", as: patient, body: Self.booking(patient.resourceID, doctor.resourceID, Self.monday10))
            try #require(booked.status == .created, "\(booked.text)")
            let id = try #require(try booked.json["id"]?.stringValue)
            #expect(try booked.json["status"]?.stringValue == "scheduled")
            #expect(try booked.json["doctorId"]?.stringValue == doctor.resourceID)
            #expect(try Platform.ids(try await Platform.call(client, .get, "/appointments", as: patient)) == [id])

            // The booking made the doctor the patient's doctor, without break-glass, on both faces.
            let read = try await Platform.call(client, .get, "/patients/\(patient.resourceID)", as: doctor)
            #expect(read.status == .ok, "\(read.text)")
            #expect(try read.json["lastName"]?.stringValue == "Pryce")
            #expect(try await client.send(.get, "/fhir/Patient/\(patient.resourceID)", headers: doctor.headers).status == .ok)
            #expect(try await client.send(.get, "/fhir/Encounter/\(id)", headers: doctor.headers).status == .ok)
            // …and not the other patient's.
            #expect(try await Platform.call(client, .get, "/patients/\(world.other.resourceID)", as: doctor).status == .notFound)

            // The create's AuditEvent names the patient as the one who booked it.
            let events = try await AuditTrail.events(agent: patient.userID, endpoint: endpoint)
            let create = try #require(events.first {
                AuditTrail.subtype($0) == "create" && AuditTrail.entityReferences($0).contains("Encounter/\(id)/_history/1")
            })
            #expect(AuditTrail.outcome(create) == "0")
            #expect(create["outcomeDesc"]?.stringValue == "appointment booked by the patient")
            #expect((create["agent"]?.arrayValue ?? []).contains { $0["who"]?["reference"]?.stringValue == patient.fhirUser })

            // A request names no time (a FHIR Encounter without `period`): no schedule to check (the
            // idle doctor has no hours at all), and the doctor asked for can act on it.
            let request = try await client.send(
                .post, "/fhir/Encounter", headers: Self.fhir(world.other),
                body: FHIRJSON.serialize(Self.encounter(world.other.resourceID, doctor.resourceID, start: nil)))
            #expect(request.status == .created, "\(request.text)")
            let requestID = try #require(try request.json["id"]?.stringValue)
            let requested = try await AuditTrail.events(agent: world.other.userID, endpoint: endpoint)
            #expect(requested.contains {
                AuditTrail.entityReferences($0).contains("Encounter/\(requestID)/_history/1")
                    && $0["outcomeDesc"]?.stringValue == "appointment requested by the patient"
            })
            #expect(try await Platform.call(client, .get, "/appointments/\(requestID)", as: doctor).status == .ok)
            // A request without a doctor is possible too (only the reason is known).
            let open = try await client.send(
                .post, "/fhir/Encounter", headers: Self.fhir(world.other),
                body: FHIRJSON.serialize(Self.encounter(world.other.resourceID, nil, start: nil)))
            #expect(open.status == .created, "\(open.text)")
            // The platform face's request: an appointment without `dateTime`, stored with no time.
            let platformRequest = try await Platform.call(
                client, .post, "/appointments", as: world.other, body: Self.booking(world.other.resourceID, world.idle.resourceID, nil))
            #expect(platformRequest.status == .created, "\(platformRequest.text)")
            let platformRequestID = try #require(try platformRequest.json["id"]?.stringValue)
            #expect(try platformRequest.json["dateTime"] == nil)
            let stored = try await client.send(.get, "/fhir/Encounter/\(platformRequestID)")
            #expect(try stored.json["period"] == nil)
            #expect(try stored.json["status"]?.stringValue == "planned")
            #expect(try await Platform.call(client, .get, "/appointments/\(platformRequestID)", as: world.idle).status == .ok)

            // The FHIR face books the same way.
            let tuesday = Self.upcoming(3, 14)
            let fhirBooked = try await client.send(
                .post, "/fhir/Encounter", headers: Self.fhir(patient),
                body: FHIRJSON.serialize(Self.encounter(patient.resourceID, doctor.resourceID, start: tuesday)))
            #expect(fhirBooked.status == .created, "\(fhirBooked.text)")
        }
    }

    @Test(.timeLimit(.minutes(3))) func slotsOutsideWorkingHoursOrTakenAreRefusedAndNothingIsStored() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let world = try await Self.world(client, endpoint, security)
            let (patient, doctor) = (world.patient, world.doctor)
            let first = try await Platform.call(
                client, .post, "/appointments", as: patient, body: Self.booking(patient.resourceID, doctor.resourceID, Self.monday10))
            try #require(first.status == .created, "\(first.text)")
            let firstID = try #require(try first.json["id"]?.stringValue)
            let before = try await Self.encounterCount(client)

            // Outside the doctor's hours: a Saturday, before opening, running past closing (30 minutes).
            for time in [Self.upcoming(7, 10), Self.upcoming(2, 8, 30), Self.upcoming(2, 16, 45)] {
                let refused = try await Platform.call(
                    client, .post, "/appointments", as: patient, body: Self.booking(patient.resourceID, doctor.resourceID, time))
                #expect(refused.status == .conflict, "\(time): \(refused.text)")
                #expect(try refused.json["error"]?["code"]?.stringValue == "slot_unavailable")
                #expect(try refused.json["error"]?["message"]?.stringValue?.contains("working hours") == true)
            }
            // A doctor without working hours has no slot at all.
            let idle = try await Platform.call(
                client, .post, "/appointments", as: patient, body: Self.booking(patient.resourceID, world.idle.resourceID, Self.monday10))
            #expect(idle.status == .conflict, "\(idle.text)")

            // Over another appointment of the doctor, the patient's own or another patient's.
            for (session, time) in [(patient, Self.upcoming(2, 10, 15)), (world.other, Self.monday10), (world.other, Self.upcoming(2, 9, 45))] {
                let taken = try await Platform.call(
                    client, .post, "/appointments", as: session, body: Self.booking(session.resourceID, doctor.resourceID, time))
                #expect(taken.status == .conflict, "\(time): \(taken.text)")
                #expect(try taken.json["error"]?["message"]?.stringValue == "the doctor has another appointment at that time")
                #expect(!taken.text.contains("Pryce") && !taken.text.contains(patient.resourceID), "the refusal names nobody")
            }
            // The FHIR face refuses the same slots, as a business rule.
            let fhirTaken = try await client.send(
                .post, "/fhir/Encounter", headers: Self.fhir(world.other),
                body: FHIRJSON.serialize(Self.encounter(world.other.resourceID, doctor.resourceID, start: Self.monday10)))
            #expect(fhirTaken.status == .conflict, "\(fhirTaken.text)")
            #expect(try fhirTaken.json["issue"]?[0]?["code"]?.stringValue == "business-rule")
            let fhirSaturday = try await client.send(
                .put, "/fhir/Encounter/my-saturday", headers: Self.fhir(patient),
                body: FHIRJSON.serialize(Self.encounter(patient.resourceID, doctor.resourceID, start: Self.upcoming(7, 11)).setting("id", "my-saturday")))
            #expect(fhirSaturday.status == .conflict, "update-as-create books too: \(fhirSaturday.text)")

            // Not checkable: in the past, a time without a doctor, a date without a time (FHIR).
            let past = try await Platform.call(
                client, .post, "/appointments", as: patient, body: Self.booking(patient.resourceID, doctor.resourceID, "2020-01-06T10:00:00Z"))
            #expect(past.status == .unprocessableContent, "\(past.text)")
            #expect(try past.json["error"]?["details"]?[0]?["field"]?.stringValue == "dateTime")
            let noDoctor = try await client.send(
                .post, "/fhir/Encounter", headers: Self.fhir(patient),
                body: FHIRJSON.serialize(Self.encounter(patient.resourceID, nil, start: Self.monday10)))
            #expect(noDoctor.status == .unprocessableContent, "\(noDoctor.text)")
            #expect(try noDoctor.json["issue"]?[0]?["expression"]?[0]?.stringValue == "Encounter.participant")
            let dateOnly = try await client.send(
                .post, "/fhir/Encounter", headers: Self.fhir(patient),
                body: FHIRJSON.serialize(Self.encounter(patient.resourceID, doctor.resourceID, start: String(Self.monday10.prefix(10)))))
            #expect(dateOnly.status == .unprocessableContent, "\(dateOnly.text)")
            let unknownDoctor = try await client.send(
                .post, "/fhir/Encounter", headers: Self.fhir(patient),
                body: FHIRJSON.serialize(Self.encounter(patient.resourceID, "no-such-doctor", start: Self.upcoming(3, 10))))
            #expect(unknownDoctor.status == .unprocessableContent, "\(unknownDoctor.text)")

            // A transaction Bundle whose two bookings overlap fails as a whole.
            let bundle: JSONValue = .object([
                "resourceType": "Bundle", "type": "transaction",
                "entry": .array([Self.upcoming(4, 11), Self.upcoming(4, 11, 20)].map { start in
                    .object(["resource": Self.encounter(patient.resourceID, doctor.resourceID, start: start),
                             "request": ["method": "POST", "url": "Encounter"]])
                }),
            ])
            let overlapping = try await client.send(.post, "/fhir", headers: Self.fhir(patient), body: FHIRJSON.serialize(bundle))
            #expect(overlapping.status == .conflict, "\(overlapping.text)")
            #expect(try await Self.encounterCount(client) == before, "no refused booking was stored")

            // Right after the booked half hour is free; a cancelled appointment frees its slot.
            let adjacent = try await Platform.call(
                client, .post, "/appointments", as: world.other, body: Self.booking(world.other.resourceID, doctor.resourceID, Self.upcoming(2, 10, 30)))
            #expect(adjacent.status == .created, "\(adjacent.text)")
            #expect(try await Platform.call(client, .delete, "/appointments/\(firstID)", as: patient).status == .ok)
            let freed = try await Platform.call(
                client, .post, "/appointments", as: world.other, body: Self.booking(world.other.resourceID, doctor.resourceID, Self.monday10))
            #expect(freed.status == .created, "\(freed.text)")
            // A Bundle with one free slot books it.
            let single: JSONValue = .object([
                "resourceType": "Bundle", "type": "transaction",
                "entry": .array([.object(["resource": Self.encounter(patient.resourceID, doctor.resourceID, start: Self.upcoming(5, 15)),
                                          "request": ["method": "POST", "url": "Encounter"]])]),
            ])
            let bundled = try await client.send(.post, "/fhir", headers: Self.fhir(patient), body: FHIRJSON.serialize(single))
            #expect(bundled.status == .ok, "\(bundled.text)")
        }
    }

    @Test(.timeLimit(.minutes(3))) func aPatientBooksOnlyForThemselvesAndOnlyAppointments() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let world = try await Self.world(client, endpoint, security)
            let (patient, doctor, other) = (world.patient, world.doctor, world.other)
            let before = try await Self.encounterCount(client)
            let denialsBefore = try await AccessControlTests.denials(of: patient, endpoint)

            // For another patient: refused on both faces, audited, nothing stored.
            let forOther = try await Platform.call(
                client, .post, "/appointments", as: patient, body: Self.booking(other.resourceID, doctor.resourceID, Self.monday10))
            #expect(forOther.status == .forbidden, "\(forOther.text)")
            #expect(try forOther.json["error"]?["code"]?.stringValue == "forbidden")
            let unknown = try await Platform.call(
                client, .post, "/appointments", as: patient, body: Self.booking("no-such-patient", doctor.resourceID, Self.monday10))
            #expect(unknown.status == .forbidden, "a 422 would tell whether the patient exists: \(unknown.text)")
            let fhirForOther = try await client.send(
                .post, "/fhir/Encounter", headers: Self.fhir(patient),
                body: FHIRJSON.serialize(Self.encounter(other.resourceID, doctor.resourceID, start: Self.monday10)))
            #expect(fhirForOther.status == .forbidden)
            let events = try await AuditTrail.events(agent: patient.userID, endpoint: endpoint)
            #expect(events.contains {
                AuditTrail.outcome($0) == "4" && AuditTrail.subtype($0) == "create"
                    && AuditTrail.entityReferences($0).contains("Patient/\(other.resourceID)")
            }, "the attempt on another patient's record is an audited denial")
            #expect(try await AccessControlTests.denials(of: patient, endpoint) >= denialsBefore + 3)

            // Only a planned appointment, with only what an appointment says.
            var finished = Self.encounter(patient.resourceID, doctor.resourceID, start: Self.monday10, status: "finished")
            #expect(try await client.send(.post, "/fhir/Encounter", headers: Self.fhir(patient), body: FHIRJSON.serialize(finished)).status == .forbidden)
            finished = Self.encounter(patient.resourceID, doctor.resourceID, start: Self.monday10)
                .setting("diagnosis", [["condition": ["reference": "Condition/anything"]]])
            #expect(try await client.send(.post, "/fhir/Encounter", headers: Self.fhir(patient), body: FHIRJSON.serialize(finished)).status == .forbidden)
            let twoDoctors = Self.encounter(patient.resourceID, doctor.resourceID, start: Self.monday10).setting("participant", [
                ["individual": ["reference": .string("Practitioner/\(doctor.resourceID)")]],
                ["individual": ["reference": .string("Practitioner/\(world.idle.resourceID)")]],
            ])
            #expect(try await client.send(.post, "/fhir/Encounter", headers: Self.fhir(patient), body: FHIRJSON.serialize(twoDoctors)).status == .forbidden)
            let unknownStatus = Self.encounter(patient.resourceID, doctor.resourceID, start: Self.monday10, status: "unknown")
            #expect(try await client.send(.post, "/fhir/Encounter", headers: Self.fhir(patient), body: FHIRJSON.serialize(unknownStatus)).status == .forbidden)
            let completed = Self.booking(patient.resourceID, doctor.resourceID, Self.monday10).setting("status", "completed")
            #expect(try await Platform.call(client, .post, "/appointments", as: patient, body: completed).status == .forbidden)
            #expect(try await Self.encounterCount(client) == before)

            // No other clinical type, on either face, by any verb.
            let observation = AccessControlTests.observation(for: patient.resourceID)
            #expect(try await client.send(.post, "/fhir/Observation", headers: Self.fhir(patient), body: FHIRJSON.serialize(observation)).status == .forbidden)
            let stored = try await client.sendJSON(.post, "/fhir/Observation", observation)
            let observationID = try #require(try stored.json["id"]?.stringValue)
            #expect(try await client.send(.get, "/fhir/Observation/\(observationID)", headers: patient.headers).status == .ok)
            let changed = try stored.json.setting("status", "amended")
            #expect(try await client.send(.put, "/fhir/Observation/\(observationID)", headers: Self.fhir(patient), body: FHIRJSON.serialize(changed)).status == .forbidden)
            let patch = #"[{"op":"replace","path":"/status","value":"amended"}]"#
            #expect(try await client.send(.patch, "/fhir/Observation/\(observationID)", headers: Self.fhir(patient, "application/json-patch+json"),
                                          body: Array(patch.utf8)).status == .forbidden)
            #expect(try await client.send(.delete, "/fhir/Observation/\(observationID)", headers: patient.headers).status == .forbidden)
            #expect(try await client.send(.delete, "/fhir/Patient/\(patient.resourceID)", headers: patient.headers).status == .forbidden)
            let record = try await Platform.call(client, .post, "/medical-records", body: ["patientId": .string(patient.resourceID), "diagnosis": "Flu"])
            let recordID = try #require(try record.json["id"]?.stringValue)
            #expect(try await Platform.call(client, .post, "/medical-records", as: patient, body: [
                "patientId": .string(patient.resourceID), "diagnosis": "Self-diagnosed",
            ]).status == .forbidden)
            #expect(try await Platform.call(client, .put, "/medical-records/\(recordID)", as: patient, body: [
                "patientId": .string(patient.resourceID), "diagnosis": "Nothing at all",
            ]).status == .forbidden)
            #expect(try await Platform.call(client, .delete, "/medical-records/\(recordID)", as: patient).status == .forbidden)
            #expect(try await Platform.call(client, .post, "/prescriptions", as: patient, body: [
                "patientId": .string(patient.resourceID), "doctorId": .string(doctor.resourceID), "dateIssued": "2026-12-01",
                "medication": "Anything", "refills": 0,
            ]).status == .forbidden)
            #expect(try await Platform.call(client, .get, "/medical-records/\(recordID)", as: patient).json["diagnosis"]?.stringValue == "Flu")
        }
    }

    @Test(.timeLimit(.minutes(3))) func aPatientCancelsTheirAppointmentAndChangesNothingElse() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let world = try await Self.world(client, endpoint, security)
            let (patient, doctor) = (world.patient, world.doctor)
            let booked = try await Platform.call(
                client, .post, "/appointments", as: patient, body: Self.booking(patient.resourceID, doctor.resourceID, Self.monday10))
            try #require(booked.status == .created, "\(booked.text)")
            let id = try #require(try booked.json["id"]?.stringValue)
            #expect(try await Self.careRows(endpoint, doctor: doctor.resourceID, patient: patient.resourceID) == 1)

            // Any change but cancelling is refused, on both faces; the appointment stays as booked.
            for change in [
                Self.booking(patient.resourceID, doctor.resourceID, Self.monday10, reason: "Something else"),
                Self.booking(patient.resourceID, doctor.resourceID, Self.upcoming(2, 11)),
                Self.booking(patient.resourceID, doctor.resourceID, Self.monday10).setting("status", "completed"),
                Self.booking(patient.resourceID, world.idle.resourceID, Self.monday10),
                Self.booking(patient.resourceID, doctor.resourceID, Self.monday10).setting("status", "canceled").setting("notes", "changed my mind"),
            ] {
                let refused = try await Platform.call(client, .put, "/appointments/\(id)", as: patient, body: change)
                #expect(refused.status == .forbidden, "\(change): \(refused.text)")
            }
            var encounter = try await client.send(.get, "/fhir/Encounter/\(id)", headers: patient.headers).json
            let moved = encounter.setting("period", ["start": .string(Self.upcoming(2, 11))])
            #expect(try await client.send(.put, "/fhir/Encounter/\(id)", headers: Self.fhir(patient), body: FHIRJSON.serialize(moved)).status == .forbidden)
            let reason = #"[{"op":"replace","path":"/reasonCode/0/text","value":"Other"}]"#
            #expect(try await client.send(.patch, "/fhir/Encounter/\(id)", headers: Self.fhir(patient, "application/json-patch+json"),
                                          body: Array(reason.utf8)).status == .forbidden)
            let cancelAndMove = #"[{"op":"replace","path":"/status","value":"cancelled"},{"op":"remove","path":"/participant"}]"#
            #expect(try await client.send(.patch, "/fhir/Encounter/\(id)", headers: Self.fhir(patient, "application/json-patch+json"),
                                          body: Array(cancelAndMove.utf8)).status == .forbidden)
            #expect(try await client.send(.delete, "/fhir/Encounter/\(id)", headers: patient.headers).status == .forbidden)
            let unchanged = try await Platform.call(client, .get, "/appointments/\(id)", as: patient)
            #expect(unchanged.headers[.eTag] == "W/\"1\"")
            #expect(try unchanged.json["reasonForVisit"]?.stringValue == "Persistent cough")

            // Cancelling (the platform's DELETE) keeps the record and ends the doctor's access from it.
            let canceled = try await Platform.call(client, .delete, "/appointments/\(id)", as: patient)
            #expect(canceled.status == .ok, "\(canceled.text)")
            #expect(try canceled.json["appointment"]?["status"]?.stringValue == "canceled")
            #expect(try await client.send(.get, "/fhir/Encounter/\(id)").json["status"]?.stringValue == "cancelled")
            #expect(try await Self.careRows(endpoint, doctor: doctor.resourceID, patient: patient.resourceID) == 0)
            #expect(try await Platform.call(client, .get, "/patients/\(patient.resourceID)", as: doctor).status == .notFound)
            #expect(try await client.send(.get, "/fhir/Patient/\(patient.resourceID)", headers: doctor.headers).status == .notFound)
            let events = try await AuditTrail.events(agent: patient.userID, endpoint: endpoint)
            #expect(events.contains {
                AuditTrail.subtype($0) == "update" && AuditTrail.entityReferences($0).contains("Encounter/\(id)/_history/2")
                    && $0["outcomeDesc"]?.stringValue == "appointment cancelled by the patient"
            })
            // Cancelling again changes nothing and answers the same; undoing it is not a patient's.
            #expect(try await Platform.call(client, .delete, "/appointments/\(id)", as: patient).status == .ok)
            encounter = try await client.send(.get, "/fhir/Encounter/\(id)", headers: patient.headers).json
            let reopened = encounter.setting("status", "planned")
            #expect(try await client.send(.put, "/fhir/Encounter/\(id)", headers: Self.fhir(patient), body: FHIRJSON.serialize(reopened)).status == .forbidden)

            // A FHIR PATCH or PUT that only cancels is a cancellation too.
            let second = try await client.send(
                .post, "/fhir/Encounter", headers: Self.fhir(patient),
                body: FHIRJSON.serialize(Self.encounter(patient.resourceID, doctor.resourceID, start: Self.upcoming(3, 9))))
            let secondID = try #require(try second.json["id"]?.stringValue)
            #expect(try await Self.careRows(endpoint, doctor: doctor.resourceID, patient: patient.resourceID) == 1)
            let cancel = #"[{"op":"replace","path":"/status","value":"cancelled"}]"#
            let patched = try await client.send(.patch, "/fhir/Encounter/\(secondID)", headers: Self.fhir(patient, "application/json-patch+json"),
                                                body: Array(cancel.utf8))
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(try await Self.careRows(endpoint, doctor: doctor.resourceID, patient: patient.resourceID) == 0)
            let third = try await client.send(
                .post, "/fhir/Encounter", headers: Self.fhir(patient),
                body: FHIRJSON.serialize(Self.encounter(patient.resourceID, doctor.resourceID, start: Self.upcoming(3, 9))))
            #expect(third.status == .created, "the cancelled slot is free again: \(third.text)")
            let thirdEncounter = try third.json
            let put = try await client.send(
                .put, "/fhir/Encounter/\(try #require(thirdEncounter["id"]?.stringValue))", headers: Self.fhir(patient),
                body: FHIRJSON.serialize(thirdEncounter.setting("status", "cancelled")))
            #expect(put.status == .ok, "\(put.text)")

            // Another patient's appointment is not theirs to read or cancel (a denied write is a 403).
            let others = try await Platform.call(
                client, .post, "/appointments", as: world.other, body: Self.booking(world.other.resourceID, doctor.resourceID, Self.upcoming(4, 9)))
            let othersID = try #require(try others.json["id"]?.stringValue)
            #expect(try await Platform.call(client, .get, "/appointments/\(othersID)", as: patient).status == .notFound)
            #expect(try await Platform.call(client, .delete, "/appointments/\(othersID)", as: patient).status == .forbidden)
            #expect(try await client.send(.get, "/fhir/Encounter/\(othersID)").json["status"]?.stringValue == "planned")
        }
    }

    /// Two patients booking the same time at once: the doctor's Practitioner is locked for the
    /// check, so exactly one gets it.
    @Test(.timeLimit(.minutes(3))) func concurrentBookingsOfOneSlotLetOneThrough() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let world = try await Self.world(client, endpoint, security)
            let time = Self.upcoming(6, 13)
            async let first = Platform.call(
                client, .post, "/appointments", as: world.patient, body: Self.booking(world.patient.resourceID, world.doctor.resourceID, time))
            async let second = Platform.call(
                client, .post, "/appointments", as: world.other, body: Self.booking(world.other.resourceID, world.doctor.resourceID, time))
            let statuses = [try await first.status, try await second.status].map(\.code).sorted()
            #expect(statuses == [201, 409], "\(statuses)")
        }
    }

    /// Working hours are times of day in the schedule zone (`medrec.scheduleTimeZone`); windows of
    /// one day that touch count as one.
    @Test func workingHoursAreReadInTheScheduleZone() throws {
        let schedule = [
            WorkSchedule(daysOfWeek: [.mon], startTime: "09:00:00", endTime: "12:00:00"),
            WorkSchedule(daysOfWeek: [.mon], startTime: "12:00:00", endTime: "17:00:00"),
        ]
        func slot(_ start: String, minutes: Double = 30) throws -> AppointmentBooking.Slot {
            let date = try #require(AppointmentBooking.instant(start))
            return AppointmentBooking.Slot(doctorID: "d", start: date, end: date.addingTimeInterval(minutes * 60))
        }
        let berlin = AppointmentBooking(timeZone: try #require(TimeZone(identifier: "Europe/Berlin")))
        // Monday 12 January 2037: Berlin is UTC+1.
        #expect(berlin.worksDuring(try slot("2037-01-12T07:30:00Z"), schedule: schedule) == false, "08:30 in Berlin")
        #expect(berlin.worksDuring(try slot("2037-01-12T08:00:00Z"), schedule: schedule), "09:00 in Berlin")
        #expect(berlin.worksDuring(try slot("2037-01-12T10:45:00Z"), schedule: schedule), "11:45–12:15 spans both windows")
        #expect(berlin.worksDuring(try slot("2037-01-12T15:45:00Z"), schedule: schedule) == false, "16:45–17:15 runs past closing")
        #expect(berlin.worksDuring(try slot("2037-01-12T09:00:00+01:00"), schedule: schedule), "the zone written is the instant's, not the schedule's")
        let utc = AppointmentBooking()
        #expect(utc.worksDuring(try slot("2037-01-12T08:30:00Z"), schedule: schedule) == false)
        #expect(utc.worksDuring(try slot("2037-01-13T10:00:00Z"), schedule: schedule) == false, "a Tuesday")
        #expect(utc.worksDuring(try slot("2037-01-12T16:00:00Z", minutes: 24 * 60), schedule: schedule) == false)
    }
}
