import FHIRModels
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import Server

/// The doctor directory (Practitioner, PractitionerRole; the platform's `/doctors`) is readable
/// by every signed-in role. Patients and billing staff get the directory view (`DirectoryView`):
/// names, specializations, working hours, marked SUBSETTED, without private data, on every read
/// path of both faces, and cannot search by what it hides. Doctors, admins and system clients
/// read the whole record.
@Suite struct DoctorDirectoryTests {
    struct World {
        let patient: Accounts.Session
        let billing: Accounts.Session
        let admin: Accounts.Session
        let doctor: Accounts.Session
        /// The directory entry with private data, written by the system client.
        let house: String
    }

    /// Values stored on the directory entry that the directory view must not show.
    static let privateValues = [
        "+1 555 0142", "greg.house@example.org", "pager 4455", "221B Baker Street", "Princeton", "1959-06-11", "999-11-2222",
        "iVBORw0KGgo", "+1 555 0199",
    ]

    static func world(_ client: any TestClientProtocol, _ security: SecurityServices) async throws -> World {
        let accounts = Accounts(client: client, security: security)
        let patient = try await accounts.patient("pat@example.org")
        let admin = try await accounts.admin("admin@example.org")
        let doctor = try await accounts.doctor("doc@example.org", approvedBy: admin)
        let hash = try await security.hasher.hash(Accounts.password)
        try #require(try await security.identities.insertUser(
            id: UUID().uuidString.lowercased(), email: "billing@example.org", passwordHash: hash, role: .billing, status: .active, fhirUser: nil))
        let billing = try await accounts.session(email: "billing@example.org")

        let created = try await Platform.call(client, .post, "/doctors", body: [
            "firstName": "Gregory", "lastName": "House", "specialization": "Diagnostic medicine", "qualifications": ["MD"],
            "contact": ["phone": "+1 555 0142", "email": "greg.house@example.org", "other": ["pager 4455"]],
            "workSchedule": [["daysOfWeek": ["mon", "tue"], "startTime": "09:00", "endTime": "17:00"]],
        ])
        try #require(created.status == .created, "\(created.text)")
        let house = try #require(try created.json["id"]?.stringValue)
        // What other systems put on a Practitioner: a home address, birth date, photo, an SSN, a
        // narrative, a foreign extension.
        var practitioner = try await client.send(.get, "/fhir/Practitioner/\(house)").json.objectValue ?? JSONObject()
        practitioner["address"] = [["use": "home", "line": ["221B Baker Street"], "city": "Princeton", "state": "NJ"]]
        practitioner["birthDate"] = "1959-06-11"
        practitioner["gender"] = "male"
        practitioner["photo"] = [["contentType": "image/png", "data": "iVBORw0KGgo="]]
        practitioner["identifier"] = [["system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-11-2222"]]
        practitioner["text"] = ["status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Dr House, +1 555 0142</div>"]
        practitioner["extension"] = .array(
            (practitioner["extension"]?.arrayValue ?? []) + [["url": "https://other.example/fhir/home-phone", "valueString": "+1 555 0199"]])
        let updated = try await client.sendJSON(.put, "/fhir/Practitioner/\(house)", .object(practitioner))
        try #require(updated.status == .ok, "\(updated.text)")
        return World(patient: patient, billing: billing, admin: admin, doctor: doctor, house: house)
    }

    static func expectNoPrivateData(_ text: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for value in privateValues {
            #expect(!text.contains(value), "\(what) shows \(value)", sourceLocation: sourceLocation)
        }
    }

    static func isSubsetted(_ resource: JSONValue?) -> Bool {
        (resource?["meta"]?["tag"]?.arrayValue ?? []).contains {
            $0["system"]?.stringValue == "http://terminology.hl7.org/CodeSystem/v3-ObservationValue" && $0["code"]?.stringValue == "SUBSETTED"
        }
    }

    @Test(.timeLimit(.minutes(3))) func patientsAndBillingReadTheDirectoryWithoutPrivateData() async throws {
        try await TestApp.runSecured { client, _, security in
            let world = try await Self.world(client, security)
            // An appointment of the patient with Dr House, for `_include`.
            let encounter: JSONValue = [
                "resourceType": "Encounter", "status": "finished",
                "class": ["system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"],
                "subject": ["reference": .string("Patient/\(world.patient.resourceID)")],
                "participant": [["individual": ["reference": .string("Practitioner/\(world.house)")]]],
            ]
            try #require(try await client.sendJSON(.post, "/fhir/Encounter", encounter).status == .created)

            for session in [world.patient, world.billing] {
                // Platform: the list and the record, names, specialization and hours, no contact.
                let list = try await Platform.call(client, .get, "/doctors", as: session)
                #expect(list.status == .ok, "\(list.text)")
                #expect(try Set(Platform.ids(list)) == [world.house, world.doctor.resourceID])
                let listed = try #require(try list.json["items"]?.arrayValue?.first { $0["id"]?.stringValue == world.house })
                #expect(listed["lastName"]?.stringValue == "House")
                #expect(listed["specialization"]?.stringValue == "Diagnostic medicine")
                #expect(listed["qualifications"]?[0]?.stringValue == "MD")
                #expect(listed["workSchedule"]?[0]?["startTime"]?.stringValue == "09:00:00")
                #expect(listed["contact"] == nil)
                Self.expectNoPrivateData(list.text, "GET /doctors")
                let named = try await Platform.call(client, .get, "/doctors?name=grego", as: session)
                #expect(try Platform.ids(named) == [world.house])
                let read = try await Platform.call(client, .get, "/doctors/\(world.house)", as: session)
                #expect(read.status == .ok)
                #expect(try read.json["firstName"]?.stringValue == "Gregory")
                #expect(try read.json["contact"] == nil)
                Self.expectNoPrivateData(read.text, "GET /doctors/{id}")

                // FHIR: read (JSON and XML), vread, history, search, each the subsetted view.
                let fhir = try await client.send(.get, "/fhir/Practitioner/\(world.house)", headers: session.headers)
                #expect(fhir.status == .ok)
                let resource = try fhir.json
                #expect(Self.isSubsetted(resource))
                for element in ["telecom", "address", "birthDate", "gender", "photo", "identifier", "text"] {
                    #expect(resource[element] == nil, "\(element) is in the directory view")
                }
                #expect(resource["name"]?[0]?["family"]?.stringValue == "House")
                #expect(resource["qualification"]?.arrayValue?.count == 2)
                #expect(resource["extension"]?.arrayValue?.map { $0["url"]?.stringValue ?? "" } == [
                    "https://medical-records.example/fhir/StructureDefinition/work-schedule",
                ])
                #expect(FHIRValidator().validate(resource).hasErrors == false)
                Self.expectNoPrivateData(fhir.text, "GET /fhir/Practitioner/{id}")
                let xml = try await client.send(
                    .get, "/fhir/Practitioner/\(world.house)", headers: session.headers.merging([.accept: "application/fhir+xml"]))
                #expect(xml.status == .ok)
                Self.expectNoPrivateData(xml.text, "the XML read")
                let version = try await client.send(.get, "/fhir/Practitioner/\(world.house)/_history/2", headers: session.headers)
                #expect(version.status == .ok)
                #expect(Self.isSubsetted(try version.json))
                Self.expectNoPrivateData(version.text, "vread")
                let history = try await client.send(.get, "/fhir/Practitioner/\(world.house)/_history", headers: session.headers)
                #expect(try history.json["entry"]?.arrayValue?.count == 2)
                Self.expectNoPrivateData(history.text, "history")
                for query in ["name=Gregory", "name=Gregory&_summary=true", "_id=\(world.house)&_elements=name,telecom", "given=Gregory&_pretty=true"] {
                    let search = try await client.send(.get, "/fhir/Practitioner?\(query)", headers: session.headers)
                    #expect(search.status == .ok, "\(query): \(search.text)")
                    let entries = try search.json["entry"]?.arrayValue ?? []
                    #expect(entries.count == 1, "\(query)")
                    #expect(Self.isSubsetted(entries.first?["resource"]), "\(query)")
                    #expect((entries.first?["resource"]?["meta"]?["tag"]?.arrayValue ?? []).count == 1, "tagged SUBSETTED once: \(query)")
                    Self.expectNoPrivateData(search.text, "search \(query)")
                }
                // A transaction Bundle's read and search entries show the same view.
                let bundle: JSONValue = [
                    "resourceType": "Bundle", "type": "transaction",
                    "entry": [
                        ["request": ["method": "GET", "url": .string("Practitioner/\(world.house)")]],
                        ["request": ["method": "GET", "url": "Practitioner?name=Gregory"]],
                    ],
                ]
                let transaction = try await client.send(
                    .post, "/fhir", headers: session.headers.merging([.contentType: "application/fhir+json"]), body: FHIRJSON.serialize(bundle))
                #expect(transaction.status == .ok, "\(transaction.text)")
                #expect(Self.isSubsetted(try transaction.json["entry"]?[0]?["resource"]))
                Self.expectNoPrivateData(transaction.text, "a transaction's GET entries")
            }

            // Included into a patient's own search: the same view.
            let included = try await client.send(
                .get, "/fhir/Encounter?_include=Encounter:practitioner", headers: world.patient.headers)
            let practitioners = try (included.json["entry"]?.arrayValue ?? []).filter { $0["resource"]?["resourceType"] == "Practitioner" }
            #expect(practitioners.count == 1, "\(included.text)")
            #expect(Self.isSubsetted(practitioners.first?["resource"]))
            Self.expectNoPrivateData(included.text, "_include")

            // Doctors, admins and system clients read the whole record.
            for headers in [world.doctor.headers, world.admin.headers, HTTPFields()] {
                let whole = try await client.send(.get, "/fhir/Practitioner/\(world.house)", headers: headers)
                #expect(whole.status == .ok)
                #expect(!Self.isSubsetted(try whole.json))
                #expect(try (whole.json["telecom"]?.arrayValue ?? []).contains { $0["value"]?.stringValue == "+1 555 0142" }, "\(whole.text)")
                #expect(try whole.json["address"]?[0]?["city"]?.stringValue == "Princeton")
                let platform = try await client.send(.get, "/doctors/\(world.house)", headers: headers)
                #expect(try platform.json["contact"]?["email"]?.stringValue == "greg.house@example.org")
                let list = try await client.send(.get, "/doctors", headers: headers)
                #expect(try Set(Platform.ids(list)).contains(world.house))
                #expect(list.text.contains("+1 555 0142"))
            }
        }
    }

    @Test(.timeLimit(.minutes(3))) func theDirectoryViewCannotBeSearchedOrProbedForWhatItHides() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let world = try await Self.world(client, security)
            for session in [world.patient, world.billing] {
                let before = try await AccessControlTests.denials(of: session, endpoint)
                // Searching by a hidden element would tell, match by match, what it holds.
                for query in [
                    "Practitioner?phone=%2B1%20555%200142", "Practitioner?email=greg.house@example.org", "Practitioner?telecom=pager%204455",
                    "Practitioner?address-city=Princeton", "Practitioner?gender=male", "Practitioner?identifier=999-11-2222",
                    "Practitioner?name=House&_sort=address-city", "PractitionerRole?practitioner.phone=%2B1%20555%200142",
                    "Encounter?practitioner.address-city=Princeton",
                    "Practitioner?_has:Encounter:practitioner:patient=\(world.patient.resourceID)",
                ] {
                    let refused = try await client.send(.get, "/fhir/\(query)", headers: session.headers)
                    #expect(refused.status == .forbidden, "\(query): \(refused.status) \(refused.text.prefix(200))")
                }
                #expect(try await AccessControlTests.denials(of: session, endpoint) >= before + 10, "each refusal is audited")
                // Directory elements stay searchable.
                for query in ["Practitioner?family=House", "Practitioner?given=Gregory", "Practitioner?active:missing=true",
                              "PractitionerRole?practitioner.name=House"] {
                    #expect(try await client.send(.get, "/fhir/\(query)", headers: session.headers).status == .ok, "\(query)")
                }

                // No write, and none that could be told apart by what the record holds.
                var json = session.headers
                json[.contentType] = "application/fhir+json"
                let practitioner: JSONValue = ["resourceType": "Practitioner", "name": [["family": "Fake"]]]
                #expect(try await client.send(.post, "/fhir/Practitioner", headers: json, body: FHIRJSON.serialize(practitioner)).status == .forbidden)
                var conditional = json
                conditional[.ifNoneExist] = "phone=+1 555 0142"
                #expect(try await client.send(.post, "/fhir/Practitioner", headers: conditional, body: FHIRJSON.serialize(practitioner)).status == .forbidden)
                let put = practitioner.setting("id", .string(world.house))
                #expect(try await client.send(.put, "/fhir/Practitioner/\(world.house)", headers: json, body: FHIRJSON.serialize(put)).status == .forbidden)
                #expect(try await client.send(.put, "/fhir/Practitioner?phone=%2B1%20555%200142", headers: json,
                                              body: FHIRJSON.serialize(practitioner)).status == .forbidden)
                var patch = session.headers
                patch[.contentType] = "application/json-patch+json"
                for value in ["+1 555 0142", "+1 555 0000"] {
                    let probe = #"[{"op":"test","path":"/telecom/0/value","value":"\#(value)"}]"#
                    let answer = try await client.send(.patch, "/fhir/Practitioner/\(world.house)", headers: patch, body: Array(probe.utf8))
                    #expect(answer.status == .forbidden, "a JSON Patch test must not tell the phone number: \(answer.status)")
                }
                #expect(try await client.send(.delete, "/fhir/Practitioner/\(world.house)", headers: session.headers).status == .forbidden)
                #expect(try await client.send(.delete, "/fhir/Practitioner?phone=%2B1%20555%200142", headers: session.headers).status == .forbidden)
                #expect(try await Platform.call(client, .post, "/doctors", as: session, body: ["firstName": "Fake", "lastName": "Doctor"]).status == .forbidden)
                #expect(try await Platform.call(client, .put, "/doctors/\(world.house)", as: session, body: [
                    "firstName": "Gregory", "lastName": "Housemann",
                ]).status == .forbidden)
                #expect(try await Platform.call(client, .delete, "/doctors/\(world.house)", as: session).status == .forbidden)
            }
            let unchanged = try await client.send(.get, "/fhir/Practitioner/\(world.house)").json
            #expect(unchanged["meta"]?["versionId"]?.stringValue == "2")
        }
    }

    /// Admins keep the directory on both faces, with every verb, and still reach nothing clinical.
    @Test(.timeLimit(.minutes(3))) func adminsManageTheDirectoryButNothingClinical() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let world = try await Self.world(client, security)
            let admin = world.admin
            // Platform: create, read, list, update, delete.
            let created = try await Platform.call(client, .post, "/doctors", as: admin, body: [
                "firstName": "Lisa", "lastName": "Cuddy", "specialization": "Endocrinology",
                "contact": ["phone": "+1 555 0177"],
                "workSchedule": [["daysOfWeek": ["wed"], "startTime": "08:00", "endTime": "12:00"]],
            ])
            #expect(created.status == .created, "\(created.text)")
            let cuddy = try #require(try created.json["id"]?.stringValue)
            let read = try await Platform.call(client, .get, "/doctors/\(cuddy)", as: admin)
            #expect(try read.json["contact"]?["phone"]?.stringValue == "+1 555 0177")
            #expect(try Set(Platform.ids(try await Platform.call(client, .get, "/doctors", as: admin))).isSuperset(of: [cuddy, world.house]))
            let updated = try await Platform.call(client, .put, "/doctors/\(cuddy)", as: admin, body: [
                "firstName": "Lisa", "lastName": "Cuddy", "specialization": "Hospital administration",
            ], headers: [.ifMatch: "W/\"1\""])
            #expect(updated.status == .ok, "\(updated.text)")
            #expect(try updated.json["specialization"]?.stringValue == "Hospital administration")
            #expect(try await Platform.call(client, .delete, "/doctors/\(cuddy)", as: admin).status == .noContent)
            #expect(try await Platform.call(client, .get, "/doctors/\(cuddy)", as: admin).status == .notFound)

            // FHIR: create, update, patch, search, delete; PractitionerRole too.
            var json = admin.headers
            json[.contentType] = "application/fhir+json"
            let practitioner: JSONValue = ["resourceType": "Practitioner", "name": [["family": "Wilson", "given": ["James"]]]]
            let fhirCreated = try await client.send(.post, "/fhir/Practitioner", headers: json, body: FHIRJSON.serialize(practitioner))
            #expect(fhirCreated.status == .created, "\(fhirCreated.text)")
            let wilson = try #require(try fhirCreated.json["id"]?.stringValue)
            let put = practitioner.setting("id", .string(wilson)).setting("gender", "male")
            #expect(try await client.send(.put, "/fhir/Practitioner/\(wilson)", headers: json, body: FHIRJSON.serialize(put)).status == .ok)
            var patchHeaders = admin.headers
            patchHeaders[.contentType] = "application/json-patch+json"
            let patch = #"[{"op":"add","path":"/active","value":true}]"#
            let patched = try await client.send(.patch, "/fhir/Practitioner/\(wilson)", headers: patchHeaders, body: Array(patch.utf8))
            #expect(patched.status == .ok, "\(patched.text)")
            let found = try await client.send(.get, "/fhir/Practitioner?family=Wilson", headers: admin.headers)
            #expect(try found.json["entry"]?[0]?["resource"]?["active"] == .bool(true))
            let role: JSONValue = [
                "resourceType": "PractitionerRole", "practitioner": ["reference": .string("Practitioner/\(wilson)")],
                "specialty": [["text": "Oncology"]],
            ]
            let roleCreated = try await client.send(.post, "/fhir/PractitionerRole", headers: json, body: FHIRJSON.serialize(role))
            #expect(roleCreated.status == .created, "\(roleCreated.text)")
            let roleID = try #require(try roleCreated.json["id"]?.stringValue)
            #expect(try await client.send(.delete, "/fhir/PractitionerRole/\(roleID)", headers: admin.headers).status == .noContent)
            #expect(try await client.send(.delete, "/fhir/Practitioner/\(wilson)", headers: admin.headers).status == .noContent)
            #expect(try await client.send(.get, "/fhir/Practitioner/\(wilson)", headers: admin.headers).status == .gone)
            let events = try await AuditTrail.events(agent: admin.userID, endpoint: endpoint)
            #expect(events.contains { AuditTrail.subtype($0) == "create" && AuditTrail.outcome($0) == "0"
                && AuditTrail.entityReferences($0).contains("Practitioner/\(wilson)/_history/1") })

            // Still nothing clinical: no Patient or Observation, read or written, on either face.
            let patientID = world.patient.resourceID
            #expect(try await client.send(.get, "/fhir/Patient/\(patientID)", headers: admin.headers).status == .notFound)
            let newPatient: JSONValue = ["resourceType": "Patient", "name": [["family": "Nobody"]]]
            #expect(try await client.send(.post, "/fhir/Patient", headers: json, body: FHIRJSON.serialize(newPatient)).status == .forbidden)
            let ownPatient = try await client.send(.get, "/fhir/Patient/\(patientID)").json
            #expect(try await client.send(.put, "/fhir/Patient/\(patientID)", headers: json,
                                          body: FHIRJSON.serialize(ownPatient.setting("gender", "other"))).status == .forbidden)
            let genderPatch = #"[{"op":"add","path":"/gender","value":"other"}]"#
            #expect(try await client.send(.patch, "/fhir/Patient/\(patientID)", headers: patchHeaders, body: Array(genderPatch.utf8)).status == .forbidden)
            #expect(try await client.send(.delete, "/fhir/Patient/\(patientID)", headers: admin.headers).status == .forbidden)
            let observation = AccessControlTests.observation(for: patientID)
            #expect(try await client.send(.post, "/fhir/Observation", headers: json, body: FHIRJSON.serialize(observation)).status == .forbidden)
            #expect(try await Platform.call(client, .post, "/patients", as: admin, body: [
                "firstName": "No", "lastName": "Body", "dateOfBirth": "1970-01-01", "gender": "unknown",
            ]).status == .forbidden)
            #expect(try await Platform.call(client, .post, "/appointments", as: admin, body: [
                "patientId": .string(patientID), "doctorId": .string(world.house), "dateTime": "2036-01-07T10:00:00Z", "status": "scheduled",
            ]).status == .forbidden)
            #expect(try await client.send(.get, "/fhir/Patient/\(patientID)").json["gender"] != "other")
        }
    }
}
