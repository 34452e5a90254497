import FHIRModels
import FixtureSupport
import Foundation
import Logging
import PostgresNIO
import Testing
import Mapping
@testable import Server

/// The services without HTTP: every role drives `RecordService` and `SearchService` directly,
/// as the bulk jobs, the web pages and the command line will. What a face would answer is read
/// off the typed results and errors; what was stored and audited off the database.
@Suite("Record and search services, each role, no HTTP", .enabled(if: Fixtures.available, Fixtures.absentReason))
struct RecordServiceTests {
    /// The services over a fresh database, and a Synthea patient with observations and an
    /// encounter created through them by a system client.
    struct World {
        let records: RecordService
        let searches: SearchService
        let client: PostgresClient
        let patientID: String
        let otherPatientID: String
        let observationIDs: [String]
        let otherObservationID: String

        func count(_ sql: String, _ value: String) async throws -> Int {
            var bindings = PostgresBindings()
            bindings.append(value)
            let rows = try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: TestApp.logger)
            for try await count in rows.decode(Int.self) { return count }
            return 0
        }

        /// Audit rows about `id` with this outcome ("0" success, "4" denied or failed).
        func audited(_ id: String, outcome: String, subtype: String) async throws -> Int {
            try await count(
                "SELECT count(*)::int FROM audit_event WHERE entity_id = $1 AND outcome = '\(outcome)' AND subtype = '\(subtype)'", id)
        }

        func searchQuery(_ type: String, _ items: [(key: String, value: String)] = []) throws -> SearchQuery {
            try SearchQueryParser(baseURL: "", strict: true, maxCount: 100).parse(types: [type], items: items + [("_count", "100")])
        }
    }

    static let synthea = "synthea/Alexis_Toy_68cd1181-6359-4047-a77f-a165d7912480.json"

    static func caller(_ role: Principal.Role, _ fhirUser: (type: String, id: String)? = nil, scopes: String, breakGlass: String? = nil) throws -> Caller {
        let principal = Principal(
            subject: "service-test-\(role.rawValue)", role: role, fhirUser: fhirUser, scopes: try ScopeSet(parsing: scopes),
            tokenID: UUID().uuidString, tokenExpiry: Date().addingTimeInterval(900), sessionID: role == .system ? nil : "session")
        return Caller(principal: principal, breakGlassReason: breakGlass, clientAddress: "192.0.2.7")
    }

    static let system = try! caller(.system, scopes: "system/*.cruds")

    /// Resources of one type from the Synthea bundle, re-pointed at `patient` (their
    /// `urn:uuid:` encounter links dropped: they name entries of the original Bundle).
    static func syntheaResources(_ type: String, patient: String, limit: Int) throws -> [JSONValue] {
        let bundle = try FHIRJSON.parse(Array(Fixtures.data(synthea)))
        var result: [JSONValue] = []
        for entry in bundle["entry"]?.arrayValue ?? [] {
            guard var object = entry["resource"]?.objectValue, object["resourceType"]?.stringValue == type else { continue }
            object["id"] = nil
            object["subject"] = .object(["reference": .string("Patient/\(patient)")])
            object["encounter"] = nil
            object["hasMember"] = nil
            object["derivedFrom"] = nil
            result.append(.object(object))
            if result.count == limit { break }
        }
        return result
    }

    static func withWorld(_ body: (World) async throws -> Void) async throws {
        let endpoint = try await TestDatabase.fresh()
        let client = PostgresClient(configuration: endpoint.clientConfiguration(), backgroundLogger: TestApp.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            let sealer = try TestApp.makeSealer()
            let store = PostgresResourceStore(client: client, logger: TestApp.logger, sealer: sealer)
            let security = try await TestApp.makeSecurity(settings: ServerSettings(), client: client, keyring: sealer.keyring)
            let records = RecordService(store: store, security: security)
            let searches = SearchService(store: store, security: security, maxIncluded: 100)
            let bundle = try FHIRJSON.parse(Array(Fixtures.data(synthea)))
            let patient = try #require(bundle["entry"]?.arrayValue?.compactMap { $0["resource"] }.first { $0["resourceType"]?.stringValue == "Patient" })
            let patientID = try await records.create(type: "Patient", resource: patient, as: system).stored.id
            let other = try FHIRJSON.parse(Array(Fixtures.data("hl7-examples/json/patient-example.json")))
            let otherID = try await records.create(type: "Patient", resource: other, as: system).stored.id
            var observations: [String] = []
            for observation in try syntheaResources("Observation", patient: patientID, limit: 3) {
                observations.append(try await records.create(type: "Observation", resource: observation, as: system).stored.id)
            }
            let otherObservation = try #require(try syntheaResources("Observation", patient: otherID, limit: 1).first)
            let otherObservationID = try await records.create(type: "Observation", resource: otherObservation, as: system).stored.id
            do {
                try await body(World(
                    records: records, searches: searches, client: client, patientID: patientID, otherPatientID: otherID,
                    observationIDs: observations, otherObservationID: otherObservationID))
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }

    /// What the thrown error tells a face: hidden (answered as absent), forbidden, or other.
    static func denial(_ body: () async throws -> Void) async -> AccessDenied.Kind? {
        do {
            try await body()
            return nil
        } catch let denied as AccessDenied {
            return denied.kind
        } catch let error as StoreError where error.code == .notFound {
            return .hidden
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test("a patient reads, searches and updates their own record and nothing else")
    func patient() async throws {
        try await Self.withWorld { world in
            let me = try Self.caller(.patient, ("Patient", world.patientID), scopes: "patient/*.cruds")
            let read = try await world.records.read(type: "Patient", id: world.patientID, as: me)
            #expect(read.id == world.patientID)
            #expect(try await world.audited(world.patientID, outcome: "0", subtype: "read") == 1)

            // Another patient's record and observation are absent to them, and the attempt is audited.
            #expect(await Self.denial { _ = try await world.records.read(type: "Patient", id: world.otherPatientID, as: me) } == .hidden)
            #expect(await Self.denial { _ = try await world.records.read(type: "Observation", id: world.otherObservationID, as: me) } == .hidden)
            #expect(try await world.audited(world.otherPatientID, outcome: "4", subtype: "read") == 1)

            // Their search sees exactly their observations, even when they ask for all.
            let result = try await world.searches.search(
                SearchService.Request(query: try world.searchQuery("Observation"), items: [], auditType: "Observation"), as: me)
            #expect(Set(result.matches.map(\.stored.id)) == Set(world.observationIDs))

            // PUT of their own Patient is allowed; a change of generalPractitioner is not.
            var patient = try #require(try read.resource()?.objectValue)
            patient["gender"] = .string("female")
            let updated = try await world.records.update(type: "Patient", id: world.patientID, resource: .object(patient), ifMatch: 1, as: me)
            #expect(updated.stored.versionID == 2)
            patient["generalPractitioner"] = .array([.object(["reference": .string("Practitioner/someone")])])
            #expect(await Self.denial {
                _ = try await world.records.update(type: "Patient", id: world.patientID, resource: .object(patient), ifMatch: nil, as: me)
            } == .forbidden)

            // PATCH, DELETE and creates of clinical records are refused, and nothing is stored.
            let patch = try JSONPatch(document: FHIRJSON.parse(Array(#"[{"op":"replace","path":"/gender","value":"male"}]"#.utf8)))
            #expect(await Self.denial {
                _ = try await world.records.patch(type: "Patient", id: world.otherPatientID, with: patch, ifMatch: nil, as: me)
            } == .hidden)
            #expect(await Self.denial { _ = try await world.records.delete(type: "Patient", id: world.patientID, as: me) } == .forbidden)
            #expect(await Self.denial { _ = try await world.records.delete(type: "Observation", id: world.observationIDs[0], as: me) } == .forbidden)
            let observation = try #require(try Self.syntheaResources("Observation", patient: world.patientID, limit: 1).first)
            #expect(await Self.denial { _ = try await world.records.create(type: "Observation", resource: observation, as: me) } == .forbidden)
            let stored = try await world.count("SELECT count(*)::int FROM resource WHERE type = $1 AND NOT deleted", "Observation")
            #expect(stored == 4, "three of theirs and one of the other patient's, nothing added or deleted")
            #expect(try await world.audited(world.observationIDs[0], outcome: "4", subtype: "delete") == 1)
        }
    }

    @Test("a doctor reads only patients they care for; a create that states the care grants it; break-glass is audited")
    func doctor() async throws {
        try await Self.withWorld { world in
            let practitioner = UUID().uuidString.lowercased()
            let doctor = try Self.caller(.doctor, ("Practitioner", practitioner), scopes: "user/*.cruds")
            #expect(await Self.denial { _ = try await world.records.read(type: "Patient", id: world.patientID, as: doctor) } == .hidden)
            #expect(await Self.denial { _ = try await world.records.read(type: "Observation", id: world.observationIDs[0], as: doctor) } == .hidden)
            let before = try await world.searches.search(
                SearchService.Request(query: try world.searchQuery("Observation"), items: [], auditType: "Observation"), as: doctor)
            #expect(before.matches.isEmpty)

            // An encounter naming the doctor as participant establishes the relationship.
            var encounter = try #require(try Self.syntheaResources("Encounter", patient: world.patientID, limit: 1).first?.objectValue)
            encounter["participant"] = .array([.object(["individual": .object(["reference": .string("Practitioner/\(practitioner)")])])])
            encounter["serviceProvider"] = nil
            encounter["location"] = nil
            _ = try await world.records.create(type: "Encounter", resource: .object(encounter), as: doctor)
            #expect(try await world.records.read(type: "Observation", id: world.observationIDs[0], as: doctor).id == world.observationIDs[0])
            let after = try await world.searches.search(
                SearchService.Request(query: try world.searchQuery("Observation"), items: [], auditType: "Observation"), as: doctor)
            #expect(Set(after.matches.map(\.stored.id)) == Set(world.observationIDs))

            // The other patient stays out of reach, except through break-glass, which is audited as such.
            #expect(await Self.denial { _ = try await world.records.read(type: "Patient", id: world.otherPatientID, as: doctor) } == .hidden)
            let emergency = try Self.caller(.doctor, ("Practitioner", practitioner), scopes: "user/*.cruds", breakGlass: "unconscious patient")
            #expect(try await world.records.read(type: "Patient", id: world.otherPatientID, as: emergency).id == world.otherPatientID)
            let breakGlass = try await world.count(
                "SELECT count(*)::int FROM audit_event WHERE entity_id = $1 AND purpose = 'BTG' AND outcome = '0'", world.otherPatientID)
            #expect(breakGlass == 1)

            // Writes follow the same rule: an update of a cared-for patient's record passes, the other's is forbidden.
            let observation = try #require(try await world.records.read(type: "Observation", id: world.observationIDs[1], as: doctor).resource())
            _ = try await world.records.update(type: "Observation", id: world.observationIDs[1], resource: observation, ifMatch: nil, as: doctor)
            let others = try #require(try await world.records.read(type: "Observation", id: world.otherObservationID, as: Self.system).resource())
            #expect(await Self.denial {
                _ = try await world.records.update(type: "Observation", id: world.otherObservationID, resource: others, ifMatch: nil, as: doctor)
            } == .forbidden)
            #expect(await Self.denial { _ = try await world.records.delete(type: "Observation", id: world.otherObservationID, as: doctor) } == .forbidden)
        }
    }

    @Test("billing reads demographics and claims, not clinical content; admins read no records")
    func billingAndAdmin() async throws {
        try await Self.withWorld { world in
            let billing = try Self.caller(.billing, scopes: "user/*.cruds")
            #expect(try await world.records.read(type: "Patient", id: world.patientID, as: billing).id == world.patientID)
            #expect(await Self.denial { _ = try await world.records.read(type: "Observation", id: world.observationIDs[0], as: billing) } == .hidden)
            let claim = try #require(try Self.syntheaResources("Claim", patient: world.patientID, limit: 1).first?.objectValue)
            var billed = claim
            billed["patient"] = .object(["reference": .string("Patient/\(world.patientID)")])
            billed["subject"] = nil
            billed["provider"] = .object(["display": .string("Billing office")])
            billed["prescription"] = nil
            billed["insurance"] = .array([.object(["sequence": .number("1"), "focal": .bool(true), "coverage": .object(["display": .string("Self pay")])])])
            billed["item"] = nil
            billed["diagnosis"] = nil
            billed["procedure"] = nil
            let created = try await world.records.create(type: "Claim", resource: .object(billed), as: billing)
            #expect(created.created)
            #expect(await Self.denial {
                _ = try await world.records.delete(type: "Patient", id: world.patientID, as: billing)
            } == .forbidden)
            let listed = try await world.searches.search(
                SearchService.Request(query: try world.searchQuery("Observation"), items: [], auditType: "Observation"), as: billing)
            #expect(listed.matches.isEmpty, "billing's searches of clinical types show nothing")

            let admin = try Self.caller(.admin, scopes: "user/*.cruds")
            #expect(await Self.denial { _ = try await world.records.read(type: "Patient", id: world.patientID, as: admin) } == .hidden)
            let patient = try #require(try await world.records.read(type: "Patient", id: world.patientID, as: Self.system).resource())
            #expect(await Self.denial {
                _ = try await world.records.update(type: "Patient", id: world.patientID, resource: patient, ifMatch: nil, as: admin)
            } == .forbidden)
        }
    }

    @Test("scopes narrow every role: a read-only token cannot write, a token without a type cannot search it")
    func scopes() async throws {
        try await Self.withWorld { world in
            let readOnly = try Self.caller(.system, scopes: "system/*.rs")
            #expect(try await world.records.read(type: "Patient", id: world.patientID, as: readOnly).id == world.patientID)
            let patient = try #require(try await world.records.read(type: "Patient", id: world.patientID, as: readOnly).resource())
            #expect(await Self.denial {
                _ = try await world.records.update(type: "Patient", id: world.patientID, resource: patient, ifMatch: nil, as: readOnly)
            } == .forbidden)
            #expect(await Self.denial { _ = try await world.records.delete(type: "Patient", id: world.patientID, as: readOnly) } == .forbidden)
            #expect(try await world.records.read(type: "Patient", id: world.patientID, as: Self.system).versionID == 1, "nothing was written")

            let patientsOnly = try Self.caller(.system, scopes: "system/Patient.rs")
            #expect(await Self.denial {
                _ = try await world.searches.search(
                    SearchService.Request(query: try world.searchQuery("Observation"), items: [], auditType: "Observation"), as: patientsOnly)
            } == .forbidden)
            let denied = try await world.count(
                "SELECT count(*)::int FROM audit_event WHERE entity_type = $1 AND outcome = '4' AND outcome_desc = 'denied: scope'", "Observation")
            #expect(denied == 1)
        }
    }

    @Test("a transaction's writer: one denied write rolls back the writes before it, and the denial is audited after")
    func transactionRollsBack() async throws {
        try await Self.withWorld { world in
            let billing = try Self.caller(.billing, scopes: "user/*.cruds")
            let patient = try #require(try await world.records.read(type: "Patient", id: world.patientID, as: Self.system).resource())
            let coverage: JSONValue = .object([
                "resourceType": .string("Coverage"), "status": .string("active"),
                "beneficiary": .object(["reference": .string("Patient/\(world.patientID)")]),
                "payor": .array([.object(["display": .string("Self pay")])]),
            ])
            let kind = await Self.denial {
                _ = try await world.records.inTransaction(billing) { writer in
                    _ = try await writer.create(type: "Coverage", resource: coverage, ifNoneExist: nil)
                    return try await writer.update(type: "Patient", id: world.patientID, resource: patient, ifMatch: nil)
                }
            }
            #expect(kind == .forbidden)
            #expect(try await world.count("SELECT count(*)::int FROM resource WHERE type = $1", "Coverage") == 0)
            #expect(try await world.audited(world.patientID, outcome: "4", subtype: "update") == 1)
        }
    }

    @Test("a token the database no longer vouches for is refused by every service, the read inside its own statement")
    func revokedToken() async throws {
        try await Self.withWorld { world in
            var caller = try Self.caller(.patient, ("Patient", world.patientID), scopes: "patient/*.cruds")
            // A session that does not exist (ended, or the account disabled): the check fails.
            caller.pendingTokenCheck = TokenCheck(
                subject: .user(id: UUID().uuidString, sessionID: UUID().uuidString), tokenID: UUID().uuidString, role: "patient",
                fhirUser: "Patient/\(world.patientID)")
            func rejected(_ body: () async throws -> Void) async -> Bool {
                do { try await body(); return false } catch is TokenRejected { return true } catch { return false }
            }
            #expect(await rejected { _ = try await world.records.read(type: "Patient", id: world.patientID, as: caller) })
            #expect(await rejected { _ = try await world.records.vread(type: "Patient", id: world.patientID, version: 1, as: caller) })
            let patient = try #require(try await world.records.read(type: "Patient", id: world.patientID, as: Self.system).resource())
            #expect(await rejected {
                _ = try await world.records.update(type: "Patient", id: world.patientID, resource: patient, ifMatch: nil, as: caller)
            })
            #expect(await rejected {
                _ = try await world.searches.search(
                    SearchService.Request(query: try world.searchQuery("Observation"), items: [], auditType: "Observation"), as: caller)
            })
            #expect(try await world.records.read(type: "Patient", id: world.patientID, as: Self.system).versionID == 1, "nothing was written")
            #expect(try await world.audited(world.patientID, outcome: "0", subtype: "read") == 2, "only the system client's two reads")
        }
    }

    @Test("the audit trail: a patient sees who read their record and nothing of others'; doctors may not read it; admins see all")
    func auditTrail() async throws {
        try await Self.withWorld { world in
            let me = try Self.caller(.patient, ("Patient", world.patientID), scopes: "patient/*.cruds")
            let doctor = try Self.caller(.doctor, ("Practitioner", UUID().uuidString.lowercased()), scopes: "user/*.cruds")
            _ = try await world.records.read(type: "Patient", id: world.patientID, as: Self.system)
            _ = try await world.records.read(type: "Patient", id: world.otherPatientID, as: Self.system)
            let trail = AuditTrailService(security: world.records.security)
            let mine = try await trail.search(.init(count: 100), as: me)
            let reads = mine.events.filter { $0["entity"]?.arrayValue?.contains { $0["what"]?["reference"]?.stringValue == "Patient/\(world.patientID)" } == true }
            #expect(!reads.isEmpty, "the system client's read of their record is in their trail")
            #expect(mine.events.allSatisfy { event in
                (event["entity"]?.arrayValue ?? []).contains { $0["what"]?["reference"]?.stringValue == "Patient/\(world.patientID)" }
            }, "every event they see is about their record")
            let others = try await trail.search(.init(patient: world.otherPatientID, count: 100), as: me)
            #expect(others.events.isEmpty)
            let id = try #require(reads.first?["id"]?.stringValue)
            #expect(try await trail.read(id: id, as: me)["id"]?.stringValue == id)
            #expect(await Self.denial { _ = try await trail.search(.init(count: 10), as: doctor) } == .forbidden)
            #expect(await Self.denial { _ = try await trail.read(id: id, as: doctor) } == .hidden)
            let admin = try Self.caller(.admin, scopes: "user/*.cruds")
            let all = try await trail.search(.init(patient: world.otherPatientID, count: 100), as: admin)
            #expect(!all.events.isEmpty, "the admin sees the other patient's trail")
        }
    }

    @Test("accounts and sessions without HTTP: register, log in, refresh, a replayed refresh token ends the session")
    func sessions() async throws {
        try await Self.withWorld { world in
            let security = world.records.security
            let accounts = AccountService(store: world.records.store, security: security)
            let sessions = SessionService(security: security)
            let registration = AccountService.Registration(
                email: "Ada.Service@example.org", password: "a long enough passphrase 1", role: .patient, firstName: "Ada",
                lastName: "Service", dateOfBirth: "1985-12-10", gender: .female)
            let registered = try await accounts.register(registration, clientAddress: "192.0.2.9")
            #expect(registered.status == .active && registered.email == "ada.service@example.org")
            let patientID = String(registered.fhirUser.dropFirst("Patient/".count))
            let patient = Caller(principal: Principal(
                subject: registered.userID, role: .patient, fhirUser: ("Patient", patientID), scopes: try ScopeSet(parsing: "patient/*.cruds"),
                tokenID: "t", tokenExpiry: Date().addingTimeInterval(60), sessionID: nil))
            #expect(try await world.records.read(type: "Patient", id: patientID, as: patient).id == patientID, "their own Patient exists")
            await #expect(throws: AccountService.EmailTaken.self) { _ = try await accounts.register(registration, clientAddress: nil) }

            let wrong = await #expect(throws: SessionService.Refused.self) {
                _ = try await sessions.login(email: registration.email, password: "not the passphrase", requestedScope: nil, clientAddress: "192.0.2.9")
            }
            #expect(wrong?.reason == .invalidCredentials)
            let tokens = try await sessions.login(
                email: registration.email, password: registration.password, requestedScope: "patient/Observation.rs user/*.cruds",
                clientAddress: "192.0.2.9")
            #expect(tokens.scope == "patient/Observation.rs", "narrowed to what the role may have")
            let refreshed = try await sessions.refresh(tokens.refreshToken, clientAddress: nil, logger: TestApp.logger)
            let replay = await #expect(throws: SessionService.Refused.self) {
                _ = try await sessions.refresh(tokens.refreshToken, clientAddress: nil, logger: TestApp.logger)
            }
            #expect(replay?.reason == .invalidGrant)
            let afterReplay = await #expect(throws: SessionService.Refused.self) {
                _ = try await sessions.refresh(refreshed.refreshToken, clientAddress: nil, logger: TestApp.logger)
            }
            #expect(afterReplay?.reason == .invalidGrant, "the replay revoked the whole session")
            let audited = try await world.count("SELECT count(*)::int FROM audit_event WHERE subtype = $1 AND outcome = '8'", "refresh")
            #expect(audited == 1, "the replay is audited as a serious failure")
        }
    }
}
