import FHIRModels
import FixtureSupport
import Foundation
import Logging
import PostgresNIO
import Testing
@testable import Server

/// Composite code + date rows (issue 16, migration 0008): `Observation?code=s|c&date=…` finds
/// what the fixture says, the same as the plain plan (a bare code is not combined), page by page;
/// and rows indexed before composite rows existed are still found until the reindex reaches them.
@Suite struct SearchCompositeTests {
    typealias Synthea = SyntheaSearchData

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func codeAndDateFindTheFixturesMatchesBeforeAndAfterTheReindex() async throws {
        try await TestApp.runSecured { client, endpoint, _ in
            let data = try Synthea.load(Array(Synthea.defaultFiles.prefix(3)))
            try await data.post(to: client)
            let heights = data.resources("Observation").filter { Synthea.hasCoding($0, "code", system: "http://loinc.org", code: "8302-2") }
            let years = heights.compactMap { $0["effectiveDateTime"]?.stringValue.map { String($0.prefix(4)) } }
            let year = try #require(Dictionary(grouping: years, by: { $0 }).max { $0.value.count < $1.value.count }?.key)
            let next = String(Int(year)! + 1)
            let expected = Synthea.references(heights.filter { $0["effectiveDateTime"]?.stringValue?.hasPrefix(year) == true })
            try #require(expected.count > 1 && expected.count < heights.count, "the year must hold some heights, not all")

            func matches(_ pairs: [(String, String)]) async throws -> Set<String> {
                let pages = try await Synthea.search(client, Synthea.path("Observation", pairs))
                #expect(pages.matchReferences.count == pages.matchSet.count, "\(pairs): no match twice")
                return pages.matchSet
            }
            func total(_ pairs: [(String, String)]) async throws -> Int? {
                let response = try await client.send(.get, Synthea.path("Observation", pairs + [("_total", "accurate"), ("_count", "0")]))
                return try response.json["total"]?.numberLexical.flatMap(Int.init)
            }
            let combined = [("code", "http://loinc.org|8302-2"), ("date", "ge\(year)"), ("date", "lt\(next)")]
            let plain = [("code", "8302-2"), ("date", "ge\(year)"), ("date", "lt\(next)")]
            let single = [("code", "http://loinc.org|8302-2"), ("date", year)]
            func check(_ stage: String) async throws {
                #expect(try await matches(combined) == expected, "\(stage): code|system + date range")
                #expect(try await matches(combined + [("_count", "2")]) == expected, "\(stage): paged by 2")
                #expect(try await matches(plain) == expected, "\(stage): bare code (not combined)")
                #expect(try await matches(single) == expected, "\(stage): one date value")
                #expect(try await total(combined) == expected.count, "\(stage): _total")
                #expect(try await matches(combined + [("status", "final,amended,corrected,preliminary")]) == expected, "\(stage): with another condition")
            }
            try await check("current rows")

            // Rows from before composite rows existed: none of them, and an older index version.
            var composites: Set<Int64> = []
            for type in ["Observation", "DiagnosticReport"] {
                let date = SearchIndexKey.param(type: type, code: "date")
                for resource in data.resources(type) {
                    for coding in Synthea.codings(resource, "code") {
                        guard let code = coding.code else { continue }
                        composites.insert(SearchIndexKey.composite(
                            date: date, token: SearchTokenHash.systemCode(type: type, param: "code", system: coding.system ?? "", code: code)))
                    }
                }
            }
            try await endpoint.withConnection(logger: TestApp.logger) { connection in
                let removed = try await connection.query(
                    "DELETE FROM search_date WHERE param = ANY(\(Array(composites))::bigint[]) RETURNING 1", logger: TestApp.logger)
                var count = 0
                for try await _ in removed { count += 1 }
                #expect(count >= heights.count, "composite rows were written with the resources")
                try await connection.query("UPDATE resource SET index_version = 3", logger: TestApp.logger)
            }
            try await check("rows indexed by version 3")

            let pool = PostgresClient(configuration: endpoint.clientConfiguration(), backgroundLogger: TestApp.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await pool.run() }
                let reindexer = Reindexer(store: PostgresResourceStore(client: pool, logger: TestApp.logger), batchSize: 200)
                #expect(try await reindexer.pending() > 0)
                _ = try await reindexer.reindexAll()
                #expect(try await reindexer.pending() == 0)
                group.cancelAll()
            }
            try await check("reindexed rows")
        }
    }
}
