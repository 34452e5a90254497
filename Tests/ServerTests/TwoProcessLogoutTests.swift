import FHIRModels
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
@testable import Server

/// Revocation lives in PostgreSQL: two `medrec serve` processes on one database agree at once.
@Suite struct TwoProcessLogoutTests {
    @Test(.timeLimit(.minutes(5))) func logoutOnOneServerIsHonouredByTheOther() async throws {
        let root = try TemporaryDirectory.make(prefix: "medrec-two")
        let dataDirectory = root + "/data"
        defer {
            EmbeddedPostgres.stopImmediatelyBlocking(dataDirectory: dataDirectory)
            try? FileManager.default.removeItem(atPath: root)
        }
        let added = try MedrecProcess.run([
            "user", "add", "--email", "ops@example.org", "--password", "a long operator passphrase", "--role", "admin",
            "--data-dir", dataDirectory,
        ])
        #expect(added.status == 0, "\(added.stderr)")
        let first = try MedrecProcess.start(["serve", "--data-dir", dataDirectory, "--port", "0"])
        defer { _ = first.terminate() }
        let firstPort = try ServeCommandTests.port(from: try await first.waitForOutput(containing: "listening on http://127.0.0.1:", timeout: .seconds(120)))
        let url = try MedrecProcess.run(["db", "url", "--data-dir", dataDirectory])
        #expect(url.status == 0)
        // The second process shares the database and the data directory's keys.
        let second = try MedrecProcess.start(
            ["serve", "--data-dir", dataDirectory, "--port", "0"],
            environment: ["MEDREC_DATABASE_URL": url.stdout.trimmingCharacters(in: .whitespacesAndNewlines)])
        defer { _ = second.terminate() }
        let secondPort = try ServeCommandTests.port(from: try await second.waitForOutput(containing: "listening on http://127.0.0.1:", timeout: .seconds(120)))

        let (loginStatus, login) = try await ServeCommandTests.request(
            "POST", "http://127.0.0.1:\(firstPort)/auth/login",
            body: FHIRJSON.serialize(.object(["email": "ops@example.org", "password": "a long operator passphrase"])),
            contentType: "application/json")
        #expect(loginStatus == 200)
        let token = try #require(login?["accessToken"]?.stringValue)
        let bearer = ["Authorization": "Bearer \(token)"]
        #expect(try await ServeCommandTests.request("GET", "http://127.0.0.1:\(secondPort)/auth/me", headers: bearer).0 == 200)
        #expect(try await ServeCommandTests.request("POST", "http://127.0.0.1:\(firstPort)/auth/logout", headers: bearer).0 == 204)
        #expect(try await ServeCommandTests.request("GET", "http://127.0.0.1:\(secondPort)/auth/me", headers: bearer).0 == 401)
        #expect(try await ServeCommandTests.request("GET", "http://127.0.0.1:\(firstPort)/admin/users", headers: bearer).0 == 401)
        #expect(!first.output.contains(token) && !second.output.contains(token), "tokens never reach the log")
    }
}
