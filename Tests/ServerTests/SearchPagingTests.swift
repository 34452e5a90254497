import FHIRModels
import FixtureSupport
import Foundation
import HummingbirdTesting
import PostgresNIO
import Testing
@testable import Server

/// `_sort`, `_count` and paging through `next` links (also across writes), `_total`,
/// `_summary` and `_elements`.
@Suite("Search: sort, paging, totals, summaries")
struct SearchPagingTests {
    typealias Synthea = SyntheaSearchData

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func sortOrdersByOneOrSeveralKeysAcrossPages() async throws {
        let data = try Synthea.load()
        let patients = data.patients
        let byBirth = patients.sorted { ($0["birthDate"]?.stringValue ?? "") < ($1["birthDate"]?.stringValue ?? "") }.map(Synthea.reference(of:))
        try #require(Set(patients.compactMap { $0["birthDate"]?.stringValue }).count == patients.count, "birth dates must be distinct to fix an order")
        let byGenderThenYoungest = patients.sorted {
            let (g0, g1) = ($0["gender"]?.stringValue ?? "", $1["gender"]?.stringValue ?? "")
            return g0 != g1 ? g0 < g1 : ($0["birthDate"]?.stringValue ?? "") > ($1["birthDate"]?.stringValue ?? "")
        }.map(Synthea.reference(of:))
        let patientID = data.patientIDs[4]
        let own = data.resources("Observation").filter { Synthea.referenceTargets($0, "subject").contains("Patient/\(patientID)") }
        let instants = Dictionary(uniqueKeysWithValues: own.map { (Synthea.reference(of: $0), Synthea.dateRange($0["effectiveDateTime"]?.stringValue ?? "")?.low ?? 0) })

        try await TestApp.run { client in
            try await data.post(to: client)
            var pages = try await Synthea.expectMatches(client, Synthea.path("Patient", [("_sort", "birthdate")]), Set(byBirth))
            #expect(pages.matchReferences == byBirth)
            pages = try await Synthea.expectMatches(client, Synthea.path("Patient", [("_sort", "-birthdate"), ("_count", "2")]), Set(byBirth))
            #expect(pages.matchReferences == byBirth.reversed())
            #expect(pages.bundles.count == 3)

            // Observations newest first, seven per page, ties broken by id: every one once, in order.
            pages = try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("patient", patientID), ("_sort", "-date,_id"), ("_count", "7")]), Synthea.references(own))
            #expect(pages.bundles.count == (own.count + 6) / 7)
            let order = pages.matchReferences
            for (earlier, later) in zip(order, order.dropFirst()) {
                let (a, b) = (instants[earlier] ?? 0, instants[later] ?? 0)
                let idA = String(earlier.split(separator: "/")[1])
                let idB = String(later.split(separator: "/")[1])
                #expect(a > b || (a == b && idA < idB), "\(earlier) before \(later) breaks -date,_id")
            }
            // Every page but the last is full.
            for bundle in pages.bundles.dropLast() {
                #expect(bundle["entry"]?.arrayValue?.count == 7)
            }
            // Newest write first, the sort that took Medplum 51 s: the server's own timestamps, non-increasing.
            pages = try await Synthea.expectMatches(
                client, Synthea.path("Observation", [("patient", patientID), ("_sort", "-_lastUpdated"), ("_count", "10")]), Synthea.references(own))
            let updated = pages.matches.map { $0["meta"]?["lastUpdated"]?.stringValue.flatMap(Synthea.dateRange)?.low ?? 0 }
            #expect(updated == updated.sorted(by: >))
            // A token key first (the issue asks for _sort on any parameter of a supported type), then a date.
            pages = try await Synthea.expectMatches(client, Synthea.path("Patient", [("_sort", "gender,-birthdate"), ("_count", "4")]), Set(byBirth))
            #expect(pages.matchReferences == byGenderThenYoungest)

            // Periods with a start only (planned visits, an ongoing stay) are open-ended: they sort
            // by their start, newest first under -date, not as ties at the end of time in key order.
            var openVisits: [String] = []
            for start in ["2021-03-01T10:00:00Z", "2023-07-15T09:00:00Z", "2019-11-30T16:30:00Z"] {
                let visit: JSONValue = [
                    "resourceType": "Encounter", "status": "planned",
                    "class": ["system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"],
                    "subject": ["reference": .string("Patient/\(patientID)")], "period": ["start": .string(start)],
                ]
                let made = try await client.sendJSON(.post, "/fhir/Encounter", visit)
                try #require(made.status == .created, "\(made.text)")
                openVisits.append("Encounter/" + (try #require(try made.json["id"]?.stringValue)))
            }
            let newestOpen = [openVisits[1], openVisits[0], openVisits[2]]
            let open = try await Synthea.search(client, Synthea.path("Encounter", [("patient", patientID), ("status", "planned"), ("_sort", "-date")]))
            #expect(open.matchReferences == newestOpen)
            let oldestFirst = try await Synthea.search(client, Synthea.path("Encounter", [("patient", patientID), ("status", "planned"), ("_sort", "date")]))
            #expect(oldestFirst.matchReferences == newestOpen.reversed())
        }
    }

    /// A patient's history newest first is read off `search_patient_date` (migration 0011), which
    /// triggers keep in step with every write. The general plan is the oracle: `subject=<id>`
    /// (which may name a Group, so it cannot take the per-patient path) finds the same
    /// Observations, and both must page out the same sequence after creates, an update that moves
    /// a date, a delete, undated and open-ended values, and a reindex.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func patientHistoryNewestFirstMatchesTheGeneralPlan() async throws {
        let data = try Synthea.load()
        let patientID = data.patientIDs[4]
        let own = data.resources("Observation").filter { Synthea.referenceTargets($0, "subject").contains("Patient/\(patientID)") }
        try #require(own.count > 30)

        // Which plan each form takes (white-box: the oracle must really be the other plan).
        func plan(_ type: [String], _ items: [(String, String)]) throws -> (patient: String, params: [Int64])? {
            var parser = SearchQueryParser(baseURL: "", strict: true, maxCount: 100)
            return SearchSQL.patientDateOrder(for: try parser.parse(types: type, items: items.map { (key: $0.0, value: $0.1) }))
        }
        #expect(try plan(["Observation"], [("patient", "Patient/\(patientID)"), ("_sort", "-date")])?.patient == patientID)
        #expect(try plan(["Observation"], [("patient", patientID), ("_sort", "-date")])?.patient == patientID)
        #expect(try plan(["Encounter", "Composition"], [("patient", "Patient/\(patientID)"), ("_sort", "-date")])?.params.count == 2)
        #expect(try plan(["Observation"], [("subject", patientID), ("_sort", "-date")]) == nil)
        #expect(try plan(["Observation"], [("focus", "Patient/\(patientID)"), ("_sort", "-date")]) == nil)
        #expect(try plan(["Observation"], [("patient", "Patient/\(patientID)"), ("_sort", "date")]) == nil)

        try await TestApp.run { client, endpoint in
            try await data.post(to: client)
            func observation(_ id: String, _ effective: [(String, JSONValue)]) -> JSONValue {
                .object(JSONObject([
                    ("resourceType", "Observation"), ("id", .string(id)), ("status", "final"),
                    ("code", ["coding": [["system": "http://loinc.org", "code": "8302-2"]]]),
                    ("subject", ["reference": .string("Patient/\(patientID)")]),
                ] + effective))
            }
            // Two without a date (they sort last, in key order), one open-ended period (sorts by
            // its start), one far in the future (first).
            let written: [(String, [(String, JSONValue)])] = [
                ("history-undated-1", []), ("history-undated-2", []),
                ("history-open", [("effectivePeriod", ["start": "2016-06-01T08:00:00Z"])]),
                ("history-future", [("effectiveDateTime", "2090-01-01T00:00:00Z")]),
            ]
            for (id, effective) in written {
                let made = try await client.sendJSON(.put, "/fhir/Observation/\(id)", observation(id, effective))
                try #require(made.status == .created, "\(made.text)")
            }
            // An update moves one Synthea Observation to the top; another is deleted.
            let moved = Synthea.reference(of: own[3]), deleted = Synthea.reference(of: own[5])
            var touched = try #require(own[3].objectValue)
            touched["effectiveDateTime"] = "2095-05-05T05:05:05Z"
            #expect(try await client.sendJSON(.put, "/fhir/\(moved)", .object(touched)).status == .ok)
            #expect(try await client.send(.delete, "/fhir/\(deleted)").status == .noContent)
            var expected = Synthea.references(own)
            expected.remove(deleted)
            expected.formUnion(["history-undated-1", "history-undated-2", "history-open", "history-future"].map { "Observation/\($0)" })

            func compare(_ label: String) async throws {
                let fast = try await Synthea.expectMatches(
                    client, Synthea.path("Observation", [("patient", "Patient/\(patientID)"), ("_sort", "-date"), ("_count", "7")]), expected)
                let general = try await Synthea.expectMatches(
                    client, Synthea.path("Observation", [("subject", patientID), ("_sort", "-date"), ("_count", "7")]), expected)
                #expect(fast.matchReferences == general.matchReferences, "\(label): the per-patient order differs from the general plan")
                #expect(Array(fast.matchReferences.prefix(2)) == [moved, "Observation/history-future"], "\(label)")
                #expect(Array(fast.matchReferences.suffix(2)) == ["Observation/history-undated-1", "Observation/history-undated-2"], "\(label)")
                #expect(fast.bundles.count == (expected.count + 6) / 7, "\(label)")
                // A filter on top (a category most of them have) still pages like the general plan.
                let fastLab = try await Synthea.search(
                    client, Synthea.path("Observation", [("patient", patientID), ("category", "vital-signs"), ("_sort", "-date"), ("_count", "5")]))
                let generalLab = try await Synthea.search(
                    client, Synthea.path("Observation", [("subject", patientID), ("category", "vital-signs"), ("_sort", "-date"), ("_count", "5")]))
                #expect(!fastLab.matchReferences.isEmpty)
                #expect(fastLab.matchReferences == generalLab.matchReferences, "\(label): filtered order differs")
            }
            try await compare("after writes")
            // The reindexer deletes and rewrites every index row of a resource in one statement.
            try await endpoint.withConnection(logger: TestApp.logger) { connection in
                try await connection.query("UPDATE resource SET index_version = 2", logger: TestApp.logger)
            }
            let pool = PostgresClient(configuration: endpoint.clientConfiguration(), backgroundLogger: TestApp.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await pool.run() }
                let reindexer = Reindexer(store: PostgresResourceStore(client: pool, logger: TestApp.logger), batchSize: 100)
                let done = try await reindexer.reindexAll()
                #expect(done > own.count)
                group.cancelAll()
            }
            try await compare("after a reindex")

            // Two types at once (the chart's timeline): Encounters and Compositions, newest first.
            let timeline = try await Synthea.search(
                client, "/fhir?_type=Encounter,Composition&patient=Patient/\(patientID)&_sort=-date&_count=3")
            let timelineGeneral = try await Synthea.search(
                client, "/fhir?_type=Encounter,Composition&subject=\(patientID)&_sort=-date&_count=3")
            #expect(timeline.matchReferences.count > 3)
            #expect(timeline.matchReferences == timelineGeneral.matchReferences)
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func pagesStayCorrectWhenResourcesAreWrittenBetweenThem() async throws {
        let data = try Synthea.load()
        let patientID = data.patientIDs[5]
        let own = data.resources("Observation").filter { Synthea.referenceTargets($0, "subject").contains("Patient/\(patientID)") }
        let expected = Synthea.references(own)
        try #require(expected.count > 30)

        try await TestApp.run { client in
            try await data.post(to: client)
            let path = Synthea.path("Observation", [("patient", patientID), ("_sort", "date"), ("_count", "10")])
            var pages = SyntheaSearchData.Pages()
            let first = try await client.send(.get, path)
            try #require(first.status == .ok)
            pages.bundles.append(try first.json)
            let seen = pages.matchReferences
            try #require(seen.count == 10)

            // Between pages: one new Observation dated before everything seen, one after everything,
            // and an update to an Observation already seen that keeps its date.
            func observation(_ id: String, _ date: String) -> JSONValue {
                [
                    "resourceType": "Observation", "id": .string(id), "status": "final",
                    "code": ["coding": [["system": "http://loinc.org", "code": "8302-2"]]],
                    "subject": ["reference": .string("Patient/\(patientID)")], "effectiveDateTime": .string(date),
                ]
            }
            #expect(try await client.sendJSON(.put, "/fhir/Observation/paging-early", observation("paging-early", "1900-01-01T00:00:00Z")).status == .created)
            #expect(try await client.sendJSON(.put, "/fhir/Observation/paging-late", observation("paging-late", "2100-01-01T00:00:00Z")).status == .created)
            let seenID = try #require(seen.first)
            var touched = try #require(data.resource(seenID)?.objectValue)
            touched["status"] = "amended"
            #expect(try await client.sendJSON(.put, "/fhir/\(seenID)", .object(touched)).status == .ok)

            var next = Synthea.nextLink(try first.json)
            while let url = next {
                let page = try await client.send(.get, url)
                try #require(page.status == .ok, "\(url) → \(page.status)")
                let bundle = try page.json
                pages.bundles.append(bundle)
                next = Synthea.nextLink(bundle)
                try #require(pages.bundles.count < 50)
            }
            let all = pages.matchReferences
            #expect(all.count == Set(all).count, "a write between pages duplicated a result")
            #expect(expected.isSubset(of: Set(all)), "a write between pages skipped \(expected.subtracting(all).sorted().prefix(3))")
            #expect(!all.contains("Observation/paging-early"), "a resource sorted before the cursor appeared on a later page")
            // Still in date order.
            let allDates = pages.matches.map { $0["effectiveDateTime"]?.stringValue.flatMap(Synthea.dateRange)?.low ?? 0 }
            #expect(allDates == allDates.sorted())
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func totalsAndSummaries() async throws {
        let data = try Synthea.load()
        let heights = Synthea.references(data.resources("Observation").filter { Synthea.hasCoding($0, "code", system: "http://loinc.org", code: "8302-2") })
        try #require(heights.count > 10)
        let patients = data.patients
        let summaryElements: Set<String> = [
            "resourceType", "id", "meta", "implicitRules", "identifier", "active", "name", "telecom", "gender", "birthDate",
            "deceasedBoolean", "deceasedDateTime", "address", "managingOrganization", "link",
        ]

        try await TestApp.run { client in
            try await data.post(to: client)
            let path = Synthea.path("Observation", [("code", "http://loinc.org|8302-2")])
            // accurate: the exact count on every page, however small the pages.
            let accurate = try await Synthea.expectMatches(client, path + "&_total=accurate&_count=4", heights)
            for bundle in accurate.bundles {
                #expect(bundle["total"] == .number(String(heights.count)), "total \(String(describing: bundle["total"])) ≠ \(heights.count)")
            }
            // A _count above the server's maximum is capped, never an error, and paging still reaches every match.
            let huge = try await Synthea.expectMatches(client, path + "&_count=100000", heights)
            #expect(huge.bundles.allSatisfy { ($0["entry"]?.arrayValue?.count ?? 0) <= 100_000 })
            // none: no total at all.
            let none = try await Synthea.expectMatches(client, path + "&_total=none", heights)
            #expect(none.bundles.allSatisfy { $0["total"] == nil })
            // estimate: a number, if any.
            let estimate = try await Synthea.search(client, path + "&_total=estimate")
            #expect(estimate.first?["total"] == nil || estimate.first?["total"]?.numberLexical != nil)

            // _summary=count: the total and no entries.
            let counted = try await client.send(.get, path + "&_summary=count")
            #expect(counted.status == .ok)
            let countBundle = try counted.json
            #expect(countBundle["total"] == .number(String(heights.count)))
            let countEntries = countBundle["entry"]?.arrayValue ?? []
            #expect(countEntries.isEmpty)

            // _summary=true: summary elements only, marked SUBSETTED.
            let summary = try await Synthea.expectMatches(client, Synthea.path("Patient", [("_summary", "true")]), Synthea.references(patients))
            for patient in summary.matches {
                let keys = Set(patient.objectValue?.keys ?? [])
                #expect(keys.isSubset(of: summaryElements), "non-summary elements \(keys.subtracting(summaryElements).sorted())")
                #expect(keys.contains("name") && keys.contains("birthDate") && keys.contains("gender"))
                #expect(Synthea.isSubsetted(patient))
            }
            // _summary=data: everything but the narrative.
            let dataOnly = try await Synthea.expectMatches(client, Synthea.path("Patient", [("_summary", "data")]), Synthea.references(patients))
            for patient in dataOnly.matches {
                #expect(patient["text"] == nil)
                #expect(patient["maritalStatus"] != nil && patient["communication"] != nil)
            }
            // _summary=text: the narrative, id and meta.
            let textOnly = try await Synthea.expectMatches(client, Synthea.path("Patient", [("_summary", "text")]), Synthea.references(patients))
            for patient in textOnly.matches {
                #expect(patient["text"] != nil)
                #expect(patient["birthDate"] == nil && patient["name"] == nil)
            }
            // _elements: only those (plus id and meta), SUBSETTED.
            let elements = try await Synthea.expectMatches(client, Synthea.path("Patient", [("_elements", "id,birthDate")]), Synthea.references(patients))
            for patient in elements.matches {
                let keys = Set(patient.objectValue?.keys ?? [])
                #expect(keys.isSubset(of: ["resourceType", "id", "meta", "birthDate"]), "\(keys.sorted())")
                #expect(keys.contains("birthDate"))
                #expect(Synthea.isSubsetted(patient))
                let fixture = data.resource(Synthea.reference(of: patient))
                #expect(patient["birthDate"] == fixture?["birthDate"])
            }
            // _elements on Observation keeps the mandatory status and code.
            let observationElements = try await Synthea.search(client, path + "&_elements=valueQuantity&_count=3")
            let shapes = Set(observationElements.matches.map { Set($0.objectValue?.keys ?? []).sorted() })
            try #require(!observationElements.matches.isEmpty)
            #expect(
                observationElements.matches.allSatisfy { $0["status"] != nil && $0["code"] != nil && $0["valueQuantity"] != nil },
                "mandatory elements dropped: returned keys \(shapes)")
            #expect(observationElements.matches.allSatisfy { $0["subject"] == nil && $0["effectiveDateTime"] == nil }, "\(shapes)")
        }
    }
}
