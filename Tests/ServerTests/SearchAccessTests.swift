import FHIRModels
import FixtureSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import Server

/// The BOLA sweep of the access-control issue, extended to search: a patient (and a doctor who
/// treats only that patient) never gets, nor gets included, nor learns through chaining, `_has`,
/// totals or compartments, anything of another patient. Two accounts' Patients are the Synthea
/// patients Keeling (A) and Graham (B); two more Synthea patients are loaded beside them.
@Suite("Search: access control")
struct SearchAccessTests {
    typealias Synthea = SyntheaSearchData

    struct World {
        let data: SyntheaSearchData
        let a: Accounts.Session
        let b: Accounts.Session
        let doctor: Accounts.Session
        /// Everything in A's compartment, and everything in any other patient's.
        let own: Set<String>
        let foreign: Set<String>
        /// The Encounter that links D1 to A (made here, in A's compartment but not in the fixture).
        let link: String
    }

    static func world(_ client: any TestClientProtocol, _ security: SecurityServices) async throws -> World {
        let accounts = Accounts(client: client, security: security)
        let a = try await accounts.patient("a@example.org", first: "Valentin", last: "Keeling")
        let b = try await accounts.patient("b@example.org", first: "Osvaldo", last: "Graham")
        let admin = try await accounts.admin("admin@example.org")
        let doctor = try await accounts.doctor("d1@example.org", approvedBy: admin)
        let data = try Synthea.load(Array(Synthea.defaultFiles.prefix(4)), patientIDs: [a.resourceID, b.resourceID])
        try await data.post(to: client)
        // D1 treats A: an Encounter links them.
        let encounter: JSONValue = [
            "resourceType": "Encounter", "status": "finished",
            "class": ["system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"],
            "subject": ["reference": .string("Patient/\(a.resourceID)")],
            "participant": [["individual": ["reference": .string(doctor.fhirUser ?? "")]]],
        ]
        let linked = try await client.sendJSON(.post, "/fhir/Encounter", encounter)
        try #require(linked.status == .created)
        let link = "Encounter/" + (try #require(try linked.json["id"]?.stringValue))
        var foreign = Set<String>()
        for id in data.patientIDs where id != a.resourceID { foreign.formUnion(Synthea.references(try data.compartment(of: id))) }
        return World(
            data: data, a: a, b: b, doctor: doctor, own: Synthea.references(try data.compartment(of: a.resourceID)), foreign: foreign, link: link)
    }

    /// Every resource of every page of a search made with `headers`; nil when the answer is
    /// absence (403 or 404). Anything of another patient fails the test.
    static func visible(
        _ client: any TestClientProtocol, _ path: String, _ headers: HTTPFields, _ world: World, method: HTTPRequest.Method = .get,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> SyntheaSearchData.Pages? {
        var pages = SyntheaSearchData.Pages()
        var next: String? = path
        while let url = next {
            let response: FHIRTestResponse
            if method == .post, pages.bundles.isEmpty, let mark = url.firstIndex(of: "?") {
                var fields = headers
                fields[.contentType] = "application/x-www-form-urlencoded"
                response = try await client.send(
                    .post, String(url[..<mark]) + "/_search", headers: fields, body: Array(url[url.index(after: mark)...].utf8))
            } else {
                response = try await client.send(.get, url, headers: headers)
            }
            if pages.bundles.isEmpty && (response.status == .notFound || response.status == .forbidden) { return nil }
            try #require(response.status == .ok, "\(path) → \(response.status): \(response.text.prefix(300))", sourceLocation: sourceLocation)
            let bundle = try response.json
            // B's name in any entry is a leak (the self link may echo the query itself).
            let entriesText = FHIRJSON.string(bundle["entry"] ?? .null)
            #expect(!entriesText.contains("Graham") && !entriesText.contains("Osvaldo"), "\(path) leaked B's name", sourceLocation: sourceLocation)
            pages.bundles.append(bundle)
            next = Synthea.nextLink(bundle)
            try #require(pages.bundles.count < 100, sourceLocation: sourceLocation)
        }
        let returned = Set(pages.entries.compactMap { $0["resource"] }.map(Synthea.reference(of:)))
        let leaked = returned.intersection(world.foreign)
        #expect(leaked.isEmpty, "\(path) returned another patient's \(leaked.sorted().prefix(4))", sourceLocation: sourceLocation)
        return pages
    }

    /// The attempts on B's data, each answered as absence or as an empty searchset.
    static func expectNothing(
        _ client: any TestClientProtocol, _ path: String, _ headers: HTTPFields, _ world: World, method: HTTPRequest.Method = .get,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        guard let pages = try await visible(client, path, headers, world, method: method, sourceLocation: sourceLocation) else { return }
        #expect(pages.matches.isEmpty, "\(path) found \(pages.matchReferences.prefix(4))", sourceLocation: sourceLocation)
        #expect(pages.includes.isEmpty, "\(path) included \(pages.includes.map(Synthea.reference(of:)).prefix(4))", sourceLocation: sourceLocation)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func aPatientsSearchesNeverReachAnotherPatient() async throws {
        try await TestApp.runSecured { client, _, security in
            let world = try await Self.world(client, security)
            let data = world.data
            let a = world.a
            let bID = world.b.resourceID
            let height = "http://loinc.org|8302-2"
            let observations = data.resources("Observation")
            let ownHeights = Synthea.references(observations.filter {
                Synthea.referenceTargets($0, "subject").contains("Patient/\(a.resourceID)") && Synthea.hasCoding($0, "code", system: "http://loinc.org", code: "8302-2")
            })
            let allHeights = Synthea.references(observations.filter { Synthea.hasCoding($0, "code", system: "http://loinc.org", code: "8302-2") })
            try #require(!ownHeights.isEmpty && allHeights.count > ownHeights.count, "others must have heights too")
            let ownObservations = Synthea.references(observations.filter { Synthea.referenceTargets($0, "subject").contains("Patient/\(a.resourceID)") })
            let bObservation = try #require(observations.first { Synthea.referenceTargets($0, "subject").contains("Patient/\(bID)") }.map(Synthea.reference(of:)))
            let bFamily = "Graham"

            // A's own search: exactly A's heights, and totals count only those.
            let mine = try #require(try await Self.visible(client, Synthea.path("Observation", [("code", height)]), a.headers, world))
            #expect(mine.matchSet == ownHeights)
            let total = try #require(try await Self.visible(client, Synthea.path("Observation", [("code", height), ("_total", "accurate")]), a.headers, world))
            #expect(total.first?["total"] == .number(String(ownHeights.count)), "the total counts other patients' rows")
            let counted = try #require(try await Self.visible(client, Synthea.path("Observation", [("code", height), ("_summary", "count")]), a.headers, world))
            #expect(counted.first?["total"] == .number(String(ownHeights.count)), "_summary=count counts other patients' rows")

            // Direct attempts on B.
            for path in [
                Synthea.path("Observation", [("patient", bID)]),
                Synthea.path("Observation", [("subject", "Patient/\(bID)")]),
                Synthea.path("Observation", [("_id", String(bObservation.split(separator: "/")[1]))]),
                Synthea.path("Patient", [("_id", bID)]),
                Synthea.path("Patient", [("family", bFamily)]),
                "/fhir/Patient/\(bID)/Observation",
                "/fhir/Patient/\(bID)/$everything",
                "/fhir?" + Synthea.query([("_type", "Patient,Observation"), ("_id", "\(bID),\(bObservation.split(separator: "/")[1])")]),
            ] {
                try await Self.expectNothing(client, path, a.headers, world)
            }
            try await Self.expectNothing(client, Synthea.path("Observation", [("patient", bID)]), a.headers, world, method: .post)

            // Chaining, one and two levels, through B's name.
            for path in [
                Synthea.path("Observation", [("patient.family", bFamily)]),
                Synthea.path("Observation", [("subject:Patient.name", "Osvaldo")]),
                Synthea.path("Observation", [("encounter.patient.family", bFamily)]),
                Synthea.path("Encounter", [("patient.family", bFamily)]),
            ] {
                try await Self.expectNothing(client, path, a.headers, world)
            }

            // _has: B's Observations must not make B (or anyone else) a match.
            let has = try #require(try await Self.visible(client, Synthea.path("Patient", [("_has:Observation:patient:code", height)]), a.headers, world))
            #expect(has.matchSet == ["Patient/\(a.resourceID)"])
            try await Self.expectNothing(
                client, Synthea.path("Patient", [("_has:Observation:patient:_id", String(bObservation.split(separator: "/")[1]))]), a.headers, world)
            try await Self.expectNothing(client, Synthea.path("Practitioner", [("_has:Encounter:practitioner:patient", bID)]), a.headers, world)

            // _revinclude and _include: only A's.
            let revincluded = try #require(try await Self.visible(client, Synthea.path("Patient", [("_revinclude", "Observation:patient")]), a.headers, world))
            #expect(revincluded.matchSet == ["Patient/\(a.resourceID)"])
            #expect(revincluded.includeSet == ownObservations)
            try await Self.expectNothing(client, Synthea.path("Patient", [("_id", bID), ("_revinclude", "Observation:patient")]), a.headers, world)
            let included = try #require(try await Self.visible(
                client, Synthea.path("Observation", [("code", height), ("_include", "Observation:patient")]), a.headers, world))
            #expect(included.includeSet == ["Patient/\(a.resourceID)"])
            _ = try await Self.visible(
                client, Synthea.path("Encounter", [("_include", "Encounter:practitioner"), ("_revinclude", "Observation:encounter"), ("_include:iterate", "Observation:patient")]),
                a.headers, world)
            // A system search over everything visible stays inside A's compartment.
            let system = try #require(try await Self.visible(client, "/fhir?" + Synthea.query([("_type", "Patient,Observation,Condition,Encounter")]), a.headers, world))
            #expect(world.own.intersection(system.matchSet).count > 10)
            #expect(system.matchSet.isSubset(of: world.own.union([world.link])), "\(system.matchSet.subtracting(world.own).sorted().prefix(4))")
            // A's own $everything has A's data and nobody else's.
            let everything = try #require(try await Self.visible(client, "/fhir/Patient/\(a.resourceID)/$everything", a.headers, world))
            #expect(ownObservations.isSubset(of: Set(everything.entries.compactMap { $0["resource"] }.map(Synthea.reference(of:)))))
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func aDoctorSearchesOnlyThePatientsTheyTreat() async throws {
        try await TestApp.runSecured { client, _, security in
            let world = try await Self.world(client, security)
            let data = world.data
            let doctor = world.doctor.headers
            let aID = world.a.resourceID
            let bID = world.b.resourceID
            let height = "http://loinc.org|8302-2"
            let observations = data.resources("Observation")
            let ownHeights = Synthea.references(observations.filter {
                Synthea.referenceTargets($0, "subject").contains("Patient/\(aID)") && Synthea.hasCoding($0, "code", system: "http://loinc.org", code: "8302-2")
            })
            try #require(!ownHeights.isEmpty)

            let heights = try #require(try await Self.visible(client, Synthea.path("Observation", [("code", height)]), doctor, world))
            #expect(heights.matchSet == ownHeights)
            let has = try #require(try await Self.visible(client, Synthea.path("Patient", [("_has:Observation:patient:code", height)]), doctor, world))
            #expect(has.matchSet == ["Patient/\(aID)"])
            for path in [
                Synthea.path("Observation", [("patient", bID)]),
                Synthea.path("Observation", [("patient.family", "Graham")]),
                Synthea.path("Observation", [("encounter.subject:Patient.family", "Graham")]),
                Synthea.path("Patient", [("_id", bID), ("_revinclude", "Observation:patient")]),
                "/fhir/Patient/\(bID)/$everything",
                "/fhir/Patient/\(bID)/Observation",
            ] {
                try await Self.expectNothing(client, path, doctor, world)
            }
            let revincluded = try #require(try await Self.visible(
                client, Synthea.path("Patient", [("_revinclude", "Observation:patient"), ("_count", "50")]), doctor, world))
            #expect(revincluded.matchSet == ["Patient/\(aID)"])
            _ = try await Self.visible(
                client, Synthea.path("Observation", [("code", height), ("_include", "Observation:patient"), ("_include", "Observation:encounter")]), doctor, world)
        }
    }
}
