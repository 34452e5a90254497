import FHIRModels
import FixtureSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import Server

/// Both faces serve one record: what the platform API writes is the FHIR resource (JSON and
/// XML), a change made on the FHIR face shows on the platform face, and a platform `PUT` keeps
/// what another system put on the FHIR resource.
@Suite struct PlatformFacesTests {
    /// One model's walk: a platform body, where its values land in FHIR, and a FHIR-side edit.
    struct Case: Sendable {
        let collection: String
        let type: String
        let body: @Sendable (_ patient: String, _ doctor: String, _ appointment: String) -> JSONValue
        /// (FHIR path, expected value) pairs checked on the FHIR face after the platform create.
        let fhirValues: [(path: [PathStep], value: String)]
        /// Edits the FHIR resource; the platform field and value that must show it.
        let fhirEdit: @Sendable (inout JSONObject) -> Void
        let platformField: [PathStep]
        let platformValue: String
    }

    enum PathStep: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
        case key(String), index(Int)
        init(stringLiteral value: String) { self = .key(value) }
        init(integerLiteral value: Int) { self = .index(value) }
    }

    static func value(_ json: JSONValue, _ path: [PathStep]) -> String? {
        var current: JSONValue? = json
        for step in path {
            switch step {
            case .key(let key): current = current?[key]
            case .index(let index):
                guard let array = current?.arrayValue, index < array.count else { return nil }
                current = array[index]
            }
        }
        return current?.stringValue ?? current?.numberLexical
    }

    static let cases: [Case] = [
        Case(
            collection: "patients", type: "Patient",
            body: { _, _, _ in [
                "firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1985-12-10", "gender": "female",
                "address": ["line": ["12 Analytical Row"], "city": "London", "state": "LDN", "postalCode": "W1 1AA", "country": "GB"],
                "contact": ["phone": "+44 20 7946 0000", "email": "ada@example.org", "other": ["https://ada.example.org"]],
                "insurance": ["provider": "Acme Health", "policyNumber": "POL-1234", "coverageDetails": "Full cover"],
            ] },
            fhirValues: [(["name", 0, "family"], "Lovelace"), (["birthDate"], "1985-12-10"), (["address", 0, "city"], "London")],
            fhirEdit: { $0["birthDate"] = "1985-12-11" }, platformField: ["dateOfBirth"], platformValue: "1985-12-11"),
        Case(
            collection: "doctors", type: "Practitioner",
            body: { _, _, _ in [
                "firstName": "Gregory", "lastName": "House", "specialization": "Diagnostic medicine",
                "contact": ["phone": "+1 555 0100", "email": "house@example.org", "other": ["pager 4455"]],
                "qualifications": ["MD"],
                "workSchedule": [["daysOfWeek": ["mon", "tue"], "startTime": "09:00:00", "endTime": "17:00:00"]],
            ] },
            fhirValues: [(["name", 0, "family"], "House")],
            fhirEdit: { object in
                var name = object["name"]?.arrayValue?.first?.objectValue ?? JSONObject()
                name["family"] = "Housemann"
                object["name"] = .array([.object(name)])
            },
            platformField: ["lastName"], platformValue: "Housemann"),
        Case(
            collection: "appointments", type: "Encounter",
            body: { patient, doctor, _ in [
                "patientId": .string(patient), "doctorId": .string(doctor), "dateTime": "2026-12-02T10:00:00Z",
                "reasonForVisit": "Check-up", "status": "scheduled", "notes": "First visit",
            ] },
            fhirValues: [(["status"], "planned"), (["period", "start"], "2026-12-02T10:00:00Z"), (["reasonCode", 0, "text"], "Check-up")],
            fhirEdit: { $0["status"] = "finished" }, platformField: ["status"], platformValue: "completed"),
        Case(
            collection: "medical-records", type: "Composition",
            body: { patient, _, _ in [
                "patientId": .string(patient), "diagnosis": "Hypertension", "treatment": "Lisinopril",
                "procedures": [["description": "Blood pressure check", "date": "2026-11-30"]],
            ] },
            fhirValues: [(["subject", "reference"], "Patient/"), (["status"], "final")],
            fhirEdit: { $0["title"] = "Medical record (reviewed)" }, platformField: ["diagnosis"], platformValue: "Hypertension"),
        Case(
            collection: "prescriptions", type: "MedicationRequest",
            body: { patient, doctor, _ in [
                "patientId": .string(patient), "doctorId": .string(doctor), "dateIssued": "2026-11-30",
                "medication": "Lisinopril 10 mg", "dosage": "10 mg once daily", "instructions": "Morning", "refills": 3,
            ] },
            fhirValues: [(["medicationCodeableConcept", "text"], "Lisinopril 10 mg"), (["dispenseRequest", "numberOfRepeatsAllowed"], "3")],
            fhirEdit: { object in
                var dispense = object["dispenseRequest"]?.objectValue ?? JSONObject()
                dispense["numberOfRepeatsAllowed"] = .number("5")
                object["dispenseRequest"] = .object(dispense)
            },
            platformField: ["refills"], platformValue: "5"),
        Case(
            collection: "billings", type: "Claim",
            body: { patient, _, appointment in [
                "patientId": .string(patient), "appointmentId": .string(appointment), "date": "2026-12-02",
                "amount": ["value": "200.00", "currency": "EUR"], "insuranceCoverage": ["value": "150.00", "currency": "EUR"],
                "outstandingAmount": ["value": "50.00", "currency": "EUR"], "status": "pending",
            ] },
            fhirValues: [(["total", "value"], "200.00"), (["total", "currency"], "EUR")],
            fhirEdit: { $0["created"] = "2026-12-03" }, platformField: ["date"], platformValue: "2026-12-03"),
    ]

    /// A patient, a doctor and an appointment for the models that point at them.
    static func people(_ client: any TestClientProtocol) async throws -> (patient: String, doctor: String, appointment: String) {
        let patient = try await Platform.call(client, .post, "/patients", body: [
            "firstName": "Pat", "lastName": "Ient", "dateOfBirth": "1970-01-01", "gender": "unknown",
        ])
        try #require(patient.status == .created, "\(patient.text)")
        let doctor = try await Platform.call(client, .post, "/doctors", body: ["firstName": "Doc", "lastName": "Tor"])
        try #require(doctor.status == .created, "\(doctor.text)")
        let patientID = try #require(try patient.json["id"]?.stringValue)
        let doctorID = try #require(try doctor.json["id"]?.stringValue)
        let appointment = try await Platform.call(client, .post, "/appointments", body: [
            "patientId": .string(patientID), "doctorId": .string(doctorID), "dateTime": "2026-12-01T08:00:00Z", "status": "scheduled",
        ])
        try #require(appointment.status == .created, "\(appointment.text)")
        return (patientID, doctorID, try #require(try appointment.json["id"]?.stringValue))
    }

    @Test(arguments: 0..<6)
    func platformWritesAreFHIRAndFHIREditsShowOnThePlatform(_ index: Int) async throws {
        let model = Self.cases[index]
        try await TestApp.run { client in
            let people = try await Self.people(client)
            let body = model.body(people.patient, people.doctor, people.appointment)
            let created = try await Platform.call(client, .post, "/\(model.collection)", body: body)
            try #require(created.status == .created, "\(model.collection): \(created.text)")
            let id = try #require(try created.json["id"]?.stringValue)
            #expect(created.headers[.eTag] == "W/\"1\"")
            // Everything sent comes back (read-only fields aside).
            for (key, value) in body.objectValue ?? JSONObject() {
                #expect(try created.json[key]?.isEquivalent(to: value) == true, "\(model.collection).\(key) came back changed")
            }

            // The same record on the FHIR face, in JSON and in XML.
            let fhirJSON = try await client.send(.get, "/fhir/\(model.type)/\(id)")
            #expect(fhirJSON.status == .ok)
            let fhirXML = try await client.send(.get, "/fhir/\(model.type)/\(id)", headers: [.accept: "application/fhir+xml"])
            #expect(fhirXML.status == .ok)
            #expect(fhirXML.headers[.contentType]?.hasPrefix("application/fhir+xml") == true)
            let resource = try fhirJSON.json
            #expect(try fhirXML.xmlAsJSON.isEquivalent(to: resource))
            #expect(FHIRValidator().validate(resource).hasErrors == false, "\(model.type) written by the platform is not valid FHIR")
            for (path, expected) in model.fhirValues {
                let actual = Self.value(resource, path)
                #expect(actual?.hasPrefix(expected) == true, "\(model.type) \(path): \(actual ?? "absent")")
            }

            // Edited on the FHIR face, seen on the platform face.
            var edited = resource.objectValue ?? JSONObject()
            model.fhirEdit(&edited)
            let put = try await client.sendJSON(.put, "/fhir/\(model.type)/\(id)", .object(edited))
            #expect(put.status == .ok, "\(put.text)")
            let read = try await Platform.call(client, .get, "/\(model.collection)/\(id)")
            #expect(read.status == .ok)
            #expect(read.headers[.eTag] == "W/\"2\"")
            #expect(Self.value(try read.json, model.platformField) == model.platformValue)

            // A platform PUT of the same body keeps what only the FHIR face carries.
            let foreignIdentifier: JSONValue = ["system": "urn:oid:2.16.840.1.113883.19.5", "value": "FOREIGN-1"]
            let foreignExtension: JSONValue = ["url": "https://other-hospital.example/fhir/ext/flag", "valueBoolean": true]
            var withForeign = try await client.send(.get, "/fhir/\(model.type)/\(id)").json.objectValue ?? JSONObject()
            // Composition.identifier is a single Identifier; elsewhere a list.
            withForeign["identifier"] = model.type == "Composition" ? foreignIdentifier : .array([foreignIdentifier])
            withForeign["extension"] = .array((withForeign["extension"]?.arrayValue ?? []) + [foreignExtension])
            #expect(try await client.sendJSON(.put, "/fhir/\(model.type)/\(id)", .object(withForeign)).status == .ok)
            let platformView = try await Platform.call(client, .get, "/\(model.collection)/\(id)").json
            var resent = platformView.objectValue ?? JSONObject()
            resent["id"] = nil
            resent["createdAt"] = nil
            resent["updatedAt"] = nil
            let replaced = try await Platform.call(client, .put, "/\(model.collection)/\(id)", body: .object(resent), headers: [.ifMatch: "W/\"3\""])
            #expect(replaced.status == .ok, "\(replaced.text)")
            let after = try await client.send(.get, "/fhir/\(model.type)/\(id)").json
            let identifiers = after["identifier"].map { $0.arrayValue ?? [$0] } ?? []
            #expect(identifiers.contains { $0.isEquivalent(to: foreignIdentifier) })
            #expect(after["extension"]?.arrayValue?.contains { $0.isEquivalent(to: foreignExtension) } == true)
            // Unchanged platform content leaves the FHIR resource as it was, apart from meta.
            var before = withForeign
            var now = after.objectValue ?? JSONObject()
            before["meta"] = nil
            now["meta"] = nil
            #expect(JSONValue.object(now).isEquivalent(to: .object(before)), "\(model.type): a no-change PUT rewrote mapped elements")

            // A stale If-Match is a conflict, in the platform's error shape.
            let stale = try await Platform.call(client, .put, "/\(model.collection)/\(id)", body: .object(resent), headers: [.ifMatch: "W/\"1\""])
            #expect(stale.status == .conflict)
            #expect(try stale.json["error"]?["code"]?.stringValue == "conflict")
        }
    }

    @Test func aPlatformEditChangesOnlyItsElementAndKeepsForeignContent() async throws {
        try await TestApp.run { client in
            let foreign: JSONValue = [
                "resourceType": "Patient",
                "identifier": [["system": "http://hospital.example/mrn", "value": "MRN-77"]],
                "extension": [["url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex", "valueCode": "F"]],
                "name": [["use": "official", "family": "Okafor", "given": ["Ngozi", "Ada"]], ["use": "nickname", "given": ["Zizi"]]],
                "gender": "female", "birthDate": "1990-04-02",
                "telecom": [["system": "phone", "value": "555-0101", "use": "home"], ["system": "fax", "value": "555-0199"]],
                "maritalStatus": ["text": "Married"],
            ]
            let created = try await client.sendJSON(.post, "/fhir/Patient", foreign)
            try #require(created.status == .created)
            let id = try #require(try created.json["id"]?.stringValue)
            let view = try await Platform.call(client, .get, "/patients/\(id)")
            #expect(try view.json["firstName"]?.stringValue == "Ngozi")
            #expect(try view.json["lastName"]?.stringValue == "Okafor")
            #expect(try view.json["contact"]?["phone"]?.stringValue == "555-0101")
            #expect(try view.json["contact"]?["other"]?.arrayValue == ["555-0199"])
            #expect(try view.json["insurance"] == nil, "nothing is invented")

            var body = try view.json.objectValue ?? JSONObject()
            body["id"] = nil
            body["lastName"] = "Okafor-Smith"
            let put = try await Platform.call(client, .put, "/patients/\(id)", body: .object(body))
            #expect(put.status == .ok, "\(put.text)")
            let after = try await client.send(.get, "/fhir/Patient/\(id)").json
            #expect(after["name"]?[0]?["family"]?.stringValue == "Okafor-Smith")
            #expect(after["name"]?[0]?["given"]?.arrayValue == ["Ngozi", "Ada"])
            #expect(after["name"]?[1]?.isEquivalent(to: ["use": "nickname", "given": ["Zizi"]]) == true)
            for key in ["identifier", "extension", "telecom", "maritalStatus", "birthDate", "gender"] {
                #expect(after[key]?.isEquivalent(to: foreign[key] ?? .null) == true, "\(key) changed")
            }
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func importedSyntheaRecordsAppearOnThePlatformFace() async throws {
        try await TestApp.run { client in
            let data = try SyntheaSearchData.load([SyntheaSearchData.defaultFiles[0], SyntheaSearchData.defaultFiles[4]])
            for bundle in data.bundles {
                let imported = try await client.sendJSON(.post, "/fhir", bundle)
                try #require(imported.status == .ok, "\(imported.text)")
            }
            var ids: [String: [String]] = [:]
            for reference in data.byReference.keys.sorted() {
                let parts = reference.split(separator: "/").map(String.init)
                ids[parts[0], default: []].append(parts[1])
            }
            for (type, collection) in [
                ("Patient", "patients"), ("Practitioner", "doctors"), ("Encounter", "appointments"),
                ("MedicationRequest", "prescriptions"), ("Claim", "billings"),
            ] {
                #expect(!ids[type, default: []].isEmpty, "the fixtures have \(type)s")
                for id in ids[type, default: []] {
                    let read = try await Platform.call(client, .get, "/\(collection)/\(id)")
                    #expect(read.status == .ok, "\(collection)/\(id): \(read.text)")
                    #expect(try read.json["id"]?.stringValue == id)
                }
            }
            let patientID = data.patientIDs[0]
            let patient = try #require(data.byReference["Patient/\(patientID)"])
            let family = try #require(patient["name"]?[0]?["family"]?.stringValue)
            let listed = try await Platform.call(client, .get, "/patients?name=\(SyntheaSearchData.encode(String(family.prefix(4))))")
            #expect(try Platform.ids(listed) == [patientID])
            let own = data.byReference.filter { $0.key.hasPrefix("Encounter/") && $0.value["subject"]?["reference"]?.stringValue == "Patient/\(patientID)" }
            var walked: [String] = []
            var next: String? = "/appointments?patientId=\(patientID)&limit=7"
            while let page = next {
                let response = try await Platform.call(client, .get, page)
                try #require(response.status == .ok, "\(response.text)")
                let pageIDs = try Platform.ids(response)
                #expect(pageIDs.count <= 7)
                walked += pageIDs
                next = try response.json["nextCursor"]?.stringValue.map { "/appointments?patientId=\(patientID)&limit=7&cursor=\($0)" }
            }
            #expect(Set(walked) == Set(own.keys.map { String($0.dropFirst("Encounter/".count)) }))
            #expect(walked.count == Set(walked).count, "no appointment on two pages")
        }
    }
}
