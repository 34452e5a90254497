import FHIRModels
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import Testing
@testable import Server

/// While the database is down, requests get 503 with an OperationOutcome quickly; when it is
/// back, the server serves again without a restart. Uses its own cluster, stopped mid-test.
@Suite struct DatabaseOutageTests {
    @Test func answers503DuringAnOutageAndRecoversByItself() async throws {
        let logger = TestDatabase.logger
        let dataDirectory = try TemporaryDirectory.make(prefix: "medrec-outage")
        defer {
            EmbeddedPostgres.stopImmediatelyBlocking(dataDirectory: dataDirectory)
            try? FileManager.default.removeItem(atPath: dataDirectory)
        }
        var options = EmbeddedPostgres.Options()
        options.durable = false
        let cluster = EmbeddedPostgres(dataDirectory: dataDirectory, options: options, logger: logger)
        let endpoint = try await cluster.start()
        try await Migrator().migrate(endpoint, logger: logger)

        let settings = ServerSettings()
        let client = PostgresClient(
            configuration: endpoint.clientConfiguration(
                statementTimeoutMilliseconds: settings.limits.statementTimeoutMilliseconds, pool: settings.pool),
            backgroundLogger: logger)
        let availability = DatabaseAvailability(client: client, logger: logger, interval: .milliseconds(500))
        let store = PostgresResourceStore(client: client, logger: logger, availability: availability)
        let security = try await TestApp.makeSecurity(settings: settings, client: client, keyring: TestApp.makeSealer().keyring)
            .with(availability: availability)
        let router = try MedrecApplication.buildRouter(store: store, client: client, settings: settings, security: security)
        let app = Application(router: router, services: [client, availability], logger: logger)

        try await app.test(.router) { client in
            let client = try await TestApp.authorized(client, security: security)
            let created = try await client.sendJSON(.post, "/fhir/Patient", FHIRRestTests.patient)
            #expect(created.status == .created)
            let id = try #require(try created.json["id"]?.stringValue)

            try await cluster.stop()
            try await Task.sleep(for: .seconds(3))
            let clock = ContinuousClock()
            let start = clock.now
            let during = try await client.send(.get, "/fhir/Patient/\(id)")
            // Fails fast rather than waiting out the 30 s statement timeout or the pool's connect
            // retries. The bound is loose on purpose: with every suite running at once on two
            // cores the answer once took 3.3 s; a hang would take 30 s.
            #expect(clock.now - start < .seconds(10))
            #expect(during.status == .serviceUnavailable)
            #expect(try during.json["resourceType"] == "OperationOutcome")
            #expect(try await client.send(.get, "/health/ready").status == .serviceUnavailable)

            _ = try await cluster.start()
            var recovered = false
            // Generous: with every suite running in parallel on two cores the pool's reconnect
            // backoff has grown by the time the database returns. The claim is "recovers without
            // a restart", not "within N seconds".
            for _ in 0..<480 where !recovered {
                try await Task.sleep(for: .milliseconds(500))
                recovered = try await client.send(.get, "/fhir/Patient/\(id)").status == .ok
            }
            #expect(recovered, "the server did not recover within 240 s of the database returning")
        }
    }
}
