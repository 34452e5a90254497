import FHIRModels
import FixtureSupport
import Foundation
import Logging
import PostgresNIO
import Testing
@testable import Server

/// Rows indexed by an older extraction (or not at all) become searchable again through the
/// reindexer, which runs in batches while the server keeps answering.
@Suite struct SearchReindexTests {
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func staleRowsAreReindexedInBatchesAndFoundAgain() async throws {
        let file = try #require(Fixtures.files(in: "synthea", withExtension: "json").sorted { $0.path < $1.path }.first)
        let bundle = try FHIRJSON.parse(Data(contentsOf: file))
        let entries = try #require(bundle["entry"]?.arrayValue)
        let patient = try #require(entries.compactMap { $0["resource"] }.first { $0["resourceType"]?.stringValue == "Patient" })
        let family = try #require(patient["name"]?.arrayValue?.first?["family"]?.stringValue)
        // Expected from the fixture: every Observation with LOINC 8302-2 (body height).
        let heights = entries.compactMap { $0["resource"] }.filter { resource in
            resource["resourceType"]?.stringValue == "Observation"
                && (resource["code"]?["coding"]?.arrayValue ?? []).contains {
                    $0["system"]?.stringValue == "http://loinc.org" && $0["code"]?.stringValue == "8302-2"
                }
        }
        try #require(!heights.isEmpty)

        try await TestApp.run { client, endpoint in
            let imported = try await client.send(
                .post, "/fhir", headers: [.contentType: "application/fhir+json"], body: Array(try Data(contentsOf: file)))
            #expect(imported.status == .ok)
            func count(_ query: String) async throws -> Int? {
                let response = try await client.send(.get, "/fhir/\(query)&_total=accurate&_count=0")
                #expect(response.status == .ok)
                return try response.json["total"]?.numberLexical.flatMap(Int.init)
            }
            #expect(try await count("Patient?family=\(family.prefix(3).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)") == 1)
            #expect(try await count("Observation?code=http://loinc.org%7C8302-2") == heights.count)

            // Simulate rows written before the search index: no index rows, an older version.
            try await endpoint.withConnection(logger: TestApp.logger) { connection in
                for table in SearchIndexRows.tables {
                    try await connection.query(PostgresQuery(unsafeSQL: "DELETE FROM \(table)"), logger: TestApp.logger)
                }
                try await connection.query("UPDATE resource SET index_version = 2", logger: TestApp.logger)
            }
            #expect(try await count("Observation?code=http://loinc.org%7C8302-2") == 0)

            let pool = PostgresClient(configuration: endpoint.clientConfiguration(), backgroundLogger: TestApp.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await pool.run() }
                let reindexer = Reindexer(store: PostgresResourceStore(client: pool, logger: TestApp.logger), batchSize: 50)
                let stale = try await reindexer.pending()
                #expect(stale == entries.count)
                let done = try await reindexer.reindexAll()
                #expect(done == stale)
                #expect(try await reindexer.pending() == 0)
                group.cancelAll()
            }
            #expect(try await count("Observation?code=http://loinc.org%7C8302-2") == heights.count)
            #expect(try await count("Patient?family=\(family.prefix(3).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)") == 1)
        }
    }
}
