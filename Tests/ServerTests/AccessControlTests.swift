import FHIRModels
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import Server

/// Broken object-level authorization (OWASP API1), swept: patients A and B, doctor D1 who
/// has an Encounter with A only. Every attempt on B's data fails as absence (404, 403 or an
/// empty Bundle) and leaves a denial AuditEvent; break-glass opens it, audited as BTG.
@Suite struct AccessControlTests {
    struct World {
        let accounts: Accounts
        let a: Accounts.Session
        let b: Accounts.Session
        let doctor: Accounts.Session
        let observationA: String
        let observationB: String
    }

    static func observation(for patient: String) -> JSONValue {
        .object([
            "resourceType": "Observation", "status": "final",
            "code": .object(["coding": .array([.object(["system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"])])]),
            "subject": .object(["reference": .string("Patient/\(patient)")]),
            "valueQuantity": .object(["value": .number("72"), "unit": "beats/minute", "system": "http://unitsofmeasure.org", "code": "/min"]),
        ])
    }

    /// A and B register; the system client (the suite's default token) records an Observation
    /// for each and an Encounter linking D1 to A.
    static func world(_ client: any TestClientProtocol, _ security: SecurityServices) async throws -> World {
        let accounts = Accounts(client: client, security: security)
        let a = try await accounts.patient("alice@example.org", first: "Alice", last: "Ames")
        let b = try await accounts.patient("bob@example.org", first: "Bob", last: "Burns")
        let admin = try await accounts.admin("admin@example.org")
        let doctor = try await accounts.doctor("d1@example.org", approvedBy: admin)
        let obsA = try await client.sendJSON(.post, "/fhir/Observation", observation(for: a.resourceID))
        let obsB = try await client.sendJSON(.post, "/fhir/Observation", observation(for: b.resourceID))
        try #require(obsA.status == .created && obsB.status == .created)
        let encounter: JSONValue = .object([
            "resourceType": "Encounter", "status": "finished",
            "class": .object(["system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"]),
            "subject": .object(["reference": .string("Patient/\(a.resourceID)")]),
            "participant": .array([.object(["individual": .object(["reference": .string(doctor.fhirUser ?? "")])])]),
        ])
        try #require(try await client.sendJSON(.post, "/fhir/Encounter", encounter).status == .created)
        return World(
            accounts: accounts, a: a, b: b, doctor: doctor,
            observationA: try #require(try obsA.json["id"]?.stringValue), observationB: try #require(try obsB.json["id"]?.stringValue))
    }

    /// The six attempts of the sweep against `victim`; `after` runs after each one.
    @discardableResult
    static func attempts(
        _ client: any TestClientProtocol, headers: HTTPFields, victim: String, observation: String,
        after: (String, FHIRTestResponse) async throws -> Void = { _, _ in }
    ) async throws -> [(name: String, response: FHIRTestResponse)] {
        var results: [(String, FHIRTestResponse)] = []
        func record(_ name: String, _ response: FHIRTestResponse) async throws {
            results.append((name, response))
            try await after(name, response)
        }
        try await record("read Patient", try await client.send(.get, "/fhir/Patient/\(victim)", headers: headers))
        try await record("read Observation", try await client.send(.get, "/fhir/Observation/\(observation)", headers: headers))
        try await record("history", try await client.send(.get, "/fhir/Patient/\(victim)/_history", headers: headers))
        try await record("search", try await client.send(.get, "/fhir/Observation?subject=Patient/\(victim)", headers: headers))
        let transaction: JSONValue = .object([
            "resourceType": "Bundle", "type": "transaction",
            "entry": .array([.object(["request": .object(["method": "GET", "url": .string("Patient/\(victim)")])])]),
        ])
        var bundleHeaders = headers
        bundleHeaders[.contentType] = "application/fhir+json"
        try await record("transaction", try await client.send(.post, "/fhir", headers: bundleHeaders, body: FHIRJSON.serialize(transaction)))
        var patchHeaders = headers
        patchHeaders[.contentType] = "application/json-patch+json"
        let patch = #"[{"op":"add","path":"/birthDate","value":"1999-01-01"}]"#
        try await record("patch", try await client.send(.patch, "/fhir/Patient/\(victim)", headers: patchHeaders, body: Array(patch.utf8)))
        return results
    }

    /// Absence: 404, 403, or a searchset with no entries.
    static func looksLikeAbsence(_ response: FHIRTestResponse) throws -> Bool {
        if response.status == .notFound || response.status == .forbidden { return true }
        guard response.status == .ok else { return false }
        let body = try response.json
        return body["type"]?.stringValue == "searchset" && (body["entry"]?.arrayValue ?? []).isEmpty
    }

    static func denials(of session: Accounts.Session, _ endpoint: DatabaseEndpoint) async throws -> Int {
        try await AuditTrail.events(agent: session.userID, endpoint: endpoint).filter { AuditTrail.outcome($0) == "4" }.count
    }

    @Test(.timeLimit(.minutes(3))) func patientAReachesNothingOfPatientB() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let world = try await Self.world(client, security)
            // A sees their own data.
            #expect(try await client.send(.get, "/fhir/Patient/\(world.a.resourceID)", headers: world.a.headers).status == .ok)
            #expect(try await client.send(.get, "/fhir/Observation/\(world.observationA)", headers: world.a.headers).status == .ok)
            var before = try await Self.denials(of: world.a, endpoint)
            try await Self.attempts(client, headers: world.a.headers, victim: world.b.resourceID, observation: world.observationB) { name, response in
                #expect(try Self.looksLikeAbsence(response), "\(name) by patient A got \(response.status): \(response.text)")
                #expect(!response.text.contains("Burns"), "\(name) leaked B's name")
                let after = try await Self.denials(of: world.a, endpoint)
                #expect(after > before, "\(name) left no denial AuditEvent")
                before = after
            }
            // The denied read answers exactly like a resource that does not exist.
            let denied = try await client.send(.get, "/fhir/Patient/\(world.b.resourceID)", headers: world.a.headers)
            let missing = try await client.send(.get, "/fhir/Patient/no-such-patient", headers: world.a.headers)
            #expect(denied.status == missing.status)
            #expect(try denied.json["issue"]?[0]?["code"] == missing.json["issue"]?[0]?["code"])
            // B's data is unchanged by the PATCH attempt.
            let b = try await client.send(.get, "/fhir/Patient/\(world.b.resourceID)")
            #expect(try b.json["birthDate"]?.stringValue == "1980-02-29", "the PATCH attempt wrote nothing")
        }
    }

    @Test(.timeLimit(.minutes(3))) func doctorWithoutCareRelationshipNeedsBreakGlass() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let world = try await Self.world(client, security)
            // D1 treats A: reads A's record and searches it.
            #expect(try await client.send(.get, "/fhir/Patient/\(world.a.resourceID)", headers: world.doctor.headers).status == .ok)
            let search = try await client.send(.get, "/fhir/Observation?subject=Patient/\(world.a.resourceID)", headers: world.doctor.headers)
            #expect(try search.json["entry"]?.arrayValue?.count == 1)

            var before = try await Self.denials(of: world.doctor, endpoint)
            try await Self.attempts(client, headers: world.doctor.headers, victim: world.b.resourceID, observation: world.observationB) { name, response in
                #expect(try Self.looksLikeAbsence(response), "\(name) by D1 got \(response.status): \(response.text)")
                let after = try await Self.denials(of: world.doctor, endpoint)
                #expect(after > before, "\(name) left no denial AuditEvent")
                before = after
            }

            // Break-glass: the same attempts succeed, each audited with purpose BTG and the reason.
            var glass = world.doctor.headers
            glass[.breakGlass] = "unconscious patient in ED"
            let eventsBefore = try await AuditTrail.events(agent: world.doctor.userID, endpoint: endpoint).count
            let results = try await Self.attempts(client, headers: glass, victim: world.b.resourceID, observation: world.observationB)
            for (name, response) in results {
                #expect(response.status == .ok, "\(name) with break-glass got \(response.status): \(response.text)")
            }
            let found = try results[3].response.json["entry"]?.arrayValue ?? []
            #expect(found.count == 1, "the break-glass search finds B's Observation")
            let events = try await AuditTrail.events(agent: world.doctor.userID, endpoint: endpoint).dropFirst(eventsBefore)
            let emergency = events.filter { AuditTrail.purpose($0) == "BTG" && AuditTrail.outcome($0) == "0" }
            #expect(emergency.count >= results.count, "each break-glass access is audited as BTG")
            #expect(emergency.allSatisfy { FHIRJSON.string($0).contains("unconscious patient in ED") })
            #expect(emergency.contains { AuditTrail.entityReferences($0).contains("Patient/\(world.b.resourceID)") })

            // Break-glass held for those requests only.
            #expect(try await client.send(.get, "/fhir/Patient/\(world.b.resourceID)", headers: world.doctor.headers).status == .notFound)
        }
    }

    @Test(.timeLimit(.minutes(3))) func rolesScopesAndWrites() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let world = try await Self.world(client, security)
            let accounts = world.accounts
            // A patient may edit their own demographics, but not their links or security labels, nor clinical data.
            var me = try await client.send(.get, "/fhir/Patient/\(world.a.resourceID)", headers: world.a.headers).json
            me = me.setting("gender", "female")
            var put = world.a.headers
            put[.contentType] = "application/fhir+json"
            #expect(try await client.send(.put, "/fhir/Patient/\(world.a.resourceID)", headers: put, body: FHIRJSON.serialize(me)).status == .ok)
            var withGP = try await client.send(.get, "/fhir/Patient/\(world.a.resourceID)", headers: world.a.headers).json
            withGP = withGP.setting("generalPractitioner", .array([.object(["reference": .string(world.doctor.fhirUser ?? "")])]))
            #expect(try await client.send(.put, "/fhir/Patient/\(world.a.resourceID)", headers: put, body: FHIRJSON.serialize(withGP)).status == .forbidden)
            #expect(try await client.send(.post, "/fhir/Observation", headers: put,
                                          body: FHIRJSON.serialize(Self.observation(for: world.a.resourceID))).status == .forbidden)
            #expect(try await client.send(.delete, "/fhir/Observation/\(world.observationA)", headers: world.a.headers).status == .forbidden)

            // A doctor writes in their patient's record; that write is audited in the same transaction.
            var doctorJSON = world.doctor.headers
            doctorJSON[.contentType] = "application/fhir+json"
            let written = try await client.send(.post, "/fhir/Observation", headers: doctorJSON,
                                                body: FHIRJSON.serialize(Self.observation(for: world.a.resourceID)))
            #expect(written.status == .created)
            // …but not in B's without break-glass.
            #expect(try await client.send(.post, "/fhir/Observation", headers: doctorJSON,
                                          body: FHIRJSON.serialize(Self.observation(for: world.b.resourceID))).status == .forbidden)
            // Moving A's Observation into B's compartment needs rights on both patients.
            var moved = try await client.send(.get, "/fhir/Observation/\(world.observationA)", headers: world.doctor.headers).json
            moved = moved.setting("subject", .object(["reference": .string("Patient/\(world.b.resourceID)")]))
            #expect(try await client.send(.put, "/fhir/Observation/\(world.observationA)", headers: doctorJSON,
                                          body: FHIRJSON.serialize(moved)).status == .forbidden)

            // A transaction with one forbidden entry fails as a whole and writes nothing.
            let transaction: JSONValue = .object([
                "resourceType": "Bundle", "type": "transaction",
                "entry": .array([
                    .object(["resource": Self.observation(for: world.a.resourceID), "request": .object(["method": "POST", "url": "Observation"])]),
                    .object(["resource": Self.observation(for: world.b.resourceID), "request": .object(["method": "POST", "url": "Observation"])]),
                ]),
            ])
            let createsBefore = try await AuditTrail.events(agent: world.doctor.userID, endpoint: endpoint)
                .filter { AuditTrail.subtype($0) == "create" && AuditTrail.outcome($0) == "0" }.count
            let failed = try await client.send(.post, "/fhir", headers: doctorJSON, body: FHIRJSON.serialize(transaction))
            #expect(failed.status == .forbidden)
            // The write's AuditEvents live in the write's transaction: rolled back with it, while
            // the denial is recorded.
            let afterEvents = try await AuditTrail.events(agent: world.doctor.userID, endpoint: endpoint)
            #expect(afterEvents.filter { AuditTrail.subtype($0) == "create" && AuditTrail.outcome($0) == "0" }.count == createsBefore)
            #expect(afterEvents.last.map { AuditTrail.outcome($0) == "4" && AuditTrail.subtype($0) == "create" } == true)
            let count = try await client.send(.get, "/fhir/Observation?subject=Patient/\(world.a.resourceID)").json["entry"]?.arrayValue?.count
            #expect(count == 2, "only the doctor's single create landed")

            // Billing: claims yes, clinical no, demographics read-only.
            let hash = try await security.hasher.hash(Accounts.password)
            _ = try await security.identities.insertUser(
                id: UUID().uuidString.lowercased(), email: "billing@example.org", passwordHash: hash, role: .billing, status: .active, fhirUser: nil)
            let billing = try await accounts.session(email: "billing@example.org")
            #expect(try await client.send(.get, "/fhir/Patient/\(world.a.resourceID)", headers: billing.headers).status == .ok)
            #expect(try await client.send(.get, "/fhir/Observation/\(world.observationA)", headers: billing.headers).status == .notFound)
            var billingJSON = billing.headers
            billingJSON[.contentType] = "application/fhir+json"
            #expect(try await client.send(.put, "/fhir/Patient/\(world.a.resourceID)", headers: billingJSON, body: FHIRJSON.serialize(me)).status == .forbidden)

            // Admin: users, not clinical data; the audit log, yes.
            let admin = try await accounts.session(email: "admin@example.org")
            #expect(try await client.send(.get, "/fhir/Patient/\(world.a.resourceID)", headers: admin.headers).status == .notFound)
            let trail = try await client.send(.get, "/fhir/AuditEvent?patient=Patient/\(world.b.resourceID)", headers: admin.headers)
            #expect(trail.status == .ok)
            #expect(try (trail.json["entry"]?.arrayValue ?? []).isEmpty == false)

            // Scopes narrow: a login asking only for patient/Observation.rs cannot read the Patient.
            let narrow = try await accounts.json(.post, "/auth/login", .object([
                "email": "alice@example.org", "password": .string(Accounts.password), "scope": "patient/Observation.rs",
            ]))
            let narrowToken = try #require(try narrow.json["accessToken"]?.stringValue)
            let narrowHeaders: HTTPFields = [.authorization: "Bearer \(narrowToken)"]
            #expect(try await client.send(.get, "/fhir/Observation/\(world.observationA)", headers: narrowHeaders).status == .ok)
            #expect(try await client.send(.get, "/fhir/Patient/\(world.a.resourceID)", headers: narrowHeaders).status == .notFound)
            // AuditEvents are append-only: no route writes them.
            #expect(try await client.sendJSON(.post, "/fhir/AuditEvent", .object(["resourceType": "AuditEvent"])).status == .forbidden)
            _ = endpoint
        }
    }

    /// Rows written before the access index existed (index_version 1, no compartment rows) are
    /// decided from their content, never treated as outside every compartment.
    @Test(.timeLimit(.minutes(3))) func rowsWithoutAnAccessIndexAreDecidedFromTheirContent() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let world = try await Self.world(client, security)
            try await endpoint.withConnection(logger: TestApp.logger) { connection in
                try await connection.query(
                    "UPDATE resource SET index_version = 1 WHERE id = \(world.observationB) OR id = \(world.b.resourceID)",
                    logger: TestApp.logger)
                try await connection.query(
                    "DELETE FROM resource_patient WHERE resource_key IN (SELECT resource_key FROM resource WHERE id = \(world.observationB) OR id = \(world.b.resourceID))",
                    logger: TestApp.logger)
            }
            for path in ["/fhir/Observation/\(world.observationB)", "/fhir/Patient/\(world.b.resourceID)"] {
                #expect(try await client.send(.get, path, headers: world.doctor.headers).status == .notFound, "doctor: \(path)")
                #expect(try await client.send(.get, path, headers: world.a.headers).status == .notFound, "patient A: \(path)")
                #expect(try await client.send(.get, path, headers: world.b.headers).status == .ok, "patient B: \(path)")
            }
        }
    }

    @Test(.timeLimit(.minutes(3))) func patientsSeeWhoLookedAtTheirRecord() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let world = try await Self.world(client, security)
            _ = try await client.send(.get, "/fhir/Patient/\(world.a.resourceID)", headers: world.doctor.headers)
            let trail = try await client.send(.get, "/fhir/AuditEvent", headers: world.a.headers)
            #expect(trail.status == .ok)
            let events = try (trail.json["entry"]?.arrayValue ?? []).compactMap { $0["resource"] }
            #expect(!events.isEmpty)
            // Only events about A's record…
            #expect(events.allSatisfy { AuditTrail.entityReferences($0).contains("Patient/\(world.a.resourceID)") })
            // …including D1's read.
            #expect(events.contains { event in
                (event["agent"]?.arrayValue ?? []).contains { $0["who"]?["reference"]?.stringValue == world.doctor.fhirUser }
            })
            // Asking for B's trail gives nothing.
            let other = try await client.send(.get, "/fhir/AuditEvent?patient=\(world.b.resourceID)", headers: world.a.headers)
            #expect(try (other.json["entry"]?.arrayValue ?? []).isEmpty)
            // The log itself refuses changes, even from the database owner.
            await #expect(throws: (any Error).self) {
                try await endpoint.withConnection(logger: TestApp.logger) { connection in
                    try await connection.query("DELETE FROM audit_event", logger: TestApp.logger)
                }
            }
        }
    }
}
