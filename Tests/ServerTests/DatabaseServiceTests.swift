import Foundation
import Testing
@testable import Server

@Suite struct DatabaseServiceTests {
    @Test func usesMEDRECDATABASEURLAndMigratesIt() async throws {
        let database = try await TestDatabase.fresh(migrated: false)
        let (endpoint, cluster) = try await DatabaseService.resolve(
            dataDirectory: "/nonexistent/never-created", logger: TestDatabase.logger,
            environment: [DatabaseService.urlEnvironmentKey: database.urlIncludingPassword])
        #expect(cluster == nil)
        #expect(endpoint.database == database.database)
        #expect(try await Migrator().migrate(endpoint, logger: TestDatabase.logger).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "/nonexistent/never-created"))
    }

    @Test func reportsAnUnreachableConfiguredDatabaseInOneLine() async throws {
        let port = PortProbe.pickFree()
        await #expect {
            _ = try await DatabaseService.resolve(
                dataDirectory: "/nonexistent", logger: TestDatabase.logger,
                environment: [DatabaseService.urlEnvironmentKey: "postgres://u:secret@127.0.0.1:\(port)/d"])
        } throws: { error in
            let message = "\(error)"
            return (error as? DatabaseError)?.code == .unreachable && !message.contains("\n")
                && !message.contains("secret")
        }
    }
}
