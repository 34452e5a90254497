import FHIRModels
import FixtureSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import Server

/// Bundle assembly without per-entry work (issue 16): a search decides each result from the
/// compartment read with it, looks a doctor's care relationships up once per page, and writes
/// compact JSON Bundles around the stored JSON. Same results, same audit, as before.
@Suite("Search: Bundle assembly")
struct SearchBundleAssemblyTests {
    typealias Synthea = SyntheaSearchData

    /// A doctor who treats A and a third Synthea patient C searches a code every patient has:
    /// the page holds several patients' resources, and deciding it takes one care-relationship
    /// lookup (not one per entry), with or without break-glass; the results and the audit
    /// records are what the per-entry decision gave.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func aDoctorsPageIsDecidedWithOneLookup() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let world = try await SearchAccessTests.world(client, security)
            let data = world.data
            let aID = world.a.resourceID
            let cID = try #require(data.patientIDs.first { $0 != aID && $0 != world.b.resourceID })
            let encounter: JSONValue = [
                "resourceType": "Encounter", "status": "finished",
                "class": ["system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"],
                "subject": ["reference": .string("Patient/\(cID)")],
                "participant": [["individual": ["reference": .string(world.doctor.fhirUser ?? "")]]],
            ]
            #expect(try await client.sendJSON(.post, "/fhir/Encounter", encounter).status == .created)

            let height = "http://loinc.org|8302-2"
            let heights = data.resources("Observation").filter { Synthea.hasCoding($0, "code", system: "http://loinc.org", code: "8302-2") }
            func heightsOf(_ patients: Set<String>) -> Set<String> {
                Synthea.references(heights.filter { !Set(Synthea.referenceTargets($0, "subject")).isDisjoint(with: patients.map { "Patient/\($0)" }) })
            }
            let treated = heightsOf([aID, cID])
            let all = Synthea.references(heights)
            try #require(heightsOf([aID]).count > 0 && heightsOf([cID]).count > 0 && all.count > treated.count)
            let path = Synthea.path("Observation", [("code", height), ("_count", "1000")])
            let doctor = world.doctor

            // Without break-glass: A's and C's heights, one page, one lookup.
            var lookups = security.relationships.lookups.value
            let page = try await client.send(.get, path, headers: doctor.headers)
            try #require(page.status == .ok)
            let entries = try page.json["entry"]?.arrayValue ?? []
            #expect(Set(entries.compactMap { $0["resource"] }.map(Synthea.reference(of:))) == treated)
            #expect(entries.count == treated.count)
            #expect(security.relationships.lookups.value - lookups == 1, "one care-relationship lookup for a page of \(entries.count)")
            var events = try await AuditTrail.events(agent: doctor.userID, endpoint: endpoint)
            let search = try #require(events.last)
            #expect(AuditTrail.subtype(search) == "search-type" && AuditTrail.outcome(search) == "0")
            #expect(Set(AuditTrail.entityReferences(search).filter { $0.hasPrefix("Patient/") }) == ["Patient/\(aID)", "Patient/\(cID)"])

            // Break-glass: everyone's heights, still one lookup, audited as BTG with every patient.
            var glass = doctor.headers
            glass[.breakGlass] = "unconscious patient in ED"
            lookups = security.relationships.lookups.value
            let opened = try await client.send(.get, path, headers: glass)
            try #require(opened.status == .ok)
            let openedEntries = try opened.json["entry"]?.arrayValue ?? []
            #expect(Set(openedEntries.compactMap { $0["resource"] }.map(Synthea.reference(of:))) == all)
            #expect(security.relationships.lookups.value - lookups == 1, "one care-relationship lookup for a page of \(openedEntries.count)")
            events = try await AuditTrail.events(agent: doctor.userID, endpoint: endpoint)
            let emergency = try #require(events.last)
            #expect(AuditTrail.purpose(emergency) == "BTG" && AuditTrail.outcome(emergency) == "0")
            let everyone = Set(data.patientIDs.filter { id in heights.contains { Synthea.referenceTargets($0, "subject").contains("Patient/\(id)") } })
            #expect(Set(AuditTrail.entityReferences(emergency).filter { $0.hasPrefix("Patient/") }) == Set(everyone.map { "Patient/\($0)" }))
        }
    }

    /// The compact JSON Bundle (stored JSON spliced in) equals the parsed-and-serialized one
    /// (`_pretty=true` takes the parsed path) for searches over the Synthea fixtures: matches,
    /// includes, revincludes, `$everything`, `_summary=false`, an outcome entry, totals, paging.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func theSplicedBundleEqualsTheParsedOne() async throws {
        try await TestApp.runSecured { client, _, _ in
            let data = try Synthea.load(Array(Synthea.defaultFiles.prefix(3)))
            try await data.post(to: client)
            let patient = try #require(data.patientIDs.first)
            let paths = [
                Synthea.path("Patient", [("_count", "50")]),
                Synthea.path("Observation", [("code", "http://loinc.org|8302-2"), ("_total", "accurate")]),
                Synthea.path("Observation", [("patient", patient), ("_count", "7")]),
                Synthea.path("Observation", [("code", "http://loinc.org|8302-2"), ("_include", "Observation:patient"), ("_include", "Observation:encounter")]),
                Synthea.path("Patient", [("_id", patient), ("_revinclude", "Encounter:patient")]),
                Synthea.path("Encounter", [("patient", patient), ("_sort", "-date"), ("_count", "5")]),
                Synthea.path("Condition", [("_summary", "false"), ("unknown-parameter", "x")]),
                Synthea.path("Condition", [("_summary", "count")]),
                "/fhir/Patient/\(patient)/$everything?_count=40",
            ]
            for path in paths {
                var compact: String? = path
                var pages = 0
                while let url = compact, pages < 3 {
                    let spliced = try await client.send(.get, url, headers: [:])
                    let parsed = try await client.send(.get, url + (url.contains("?") ? "&" : "?") + "_pretty=true", headers: [:])
                    try #require(spliced.status == .ok && parsed.status == .ok, "\(url): \(spliced.status) \(spliced.text.prefix(300))")
                    // Strict JSON, and the same Bundle but for the links (the parsed one's carry _pretty).
                    let splicedBundle = try FHIRJSON.parse(spliced.body)
                    let parsedBundle = try FHIRJSON.parse(parsed.body)
                    #expect(!spliced.text.contains("\n"), "\(url): the spliced Bundle is compact")
                    #expect(splicedBundle.setting("link", nil) == parsedBundle.setting("link", nil), "\(url): spliced and parsed Bundles differ")
                    #expect((splicedBundle["entry"]?.arrayValue?.count ?? 0) == (parsedBundle["entry"]?.arrayValue?.count ?? 0))
                    let links = splicedBundle["link"]?.arrayValue?.compactMap { $0["relation"]?.stringValue } ?? []
                    #expect(links == (parsedBundle["link"]?.arrayValue?.compactMap { $0["relation"]?.stringValue } ?? []))
                    compact = Synthea.nextLink(splicedBundle)
                    pages += 1
                }
            }
        }
    }
}
