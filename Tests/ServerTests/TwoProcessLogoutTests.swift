import FHIRModels
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
@testable import Server

/// Revocation and the email lock live in PostgreSQL: two `medrec serve` processes on one database
/// agree at once.
@Suite struct TwoProcessLogoutTests {
    @Test(.timeLimit(.minutes(5))) func logoutOnOneServerIsHonouredByTheOther() async throws {
        let root = try TemporaryDirectory.make(prefix: "medrec-two")
        let dataDirectory = root + "/data"
        defer {
            EmbeddedPostgres.stopImmediatelyBlocking(dataDirectory: dataDirectory)
            try? FileManager.default.removeItem(atPath: root)
        }
        let added = try await MedrecProcess.run([
            "user", "add", "--email", "ops@example.org", "--password", "a long operator passphrase", "--role", "admin",
            "--data-dir", dataDirectory,
        ])
        #expect(added.status == 0, "\(added.stderr)")
        let first = try MedrecProcess.start(["serve", "--data-dir", dataDirectory, "--port", "0"])
        defer { first.stop() }
        let firstPort = try ServeCommandTests.port(from: try await first.waitForOutput(containing: "listening on http://127.0.0.1:", timeout: .seconds(120)))
        let url = try await MedrecProcess.run(["db", "url", "--data-dir", dataDirectory])
        #expect(url.status == 0)
        // The second process shares the database and the data directory's keys.
        let second = try MedrecProcess.start(
            ["serve", "--data-dir", dataDirectory, "--port", "0"],
            environment: ["MEDREC_DATABASE_URL": url.stdout.trimmingCharacters(in: .whitespacesAndNewlines)])
        defer { second.stop() }
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

        // `medrec user add` works while the servers run: a patient with a new Patient, then a
        // second account linked to that existing Patient; a link to a missing resource fails.
        let patient = try await MedrecProcess.run([
            "user", "add", "--email", "pat@example.org", "--password", "a long patient passphrase", "--role", "patient",
            "--first-name", "Pat", "--last-name", "Quinn", "--data-dir", dataDirectory,
        ])
        #expect(patient.status == 0, "\(patient.stderr)")
        let linked = try #require(patient.stdout.split(separator: " ").first { $0.hasPrefix("Patient/") }).trimmingCharacters(in: .whitespacesAndNewlines)
        let (patientLogin, patientTokens) = try await ServeCommandTests.request(
            "POST", "http://127.0.0.1:\(secondPort)/auth/login",
            body: FHIRJSON.serialize(.object(["email": "pat@example.org", "password": "a long patient passphrase"])),
            contentType: "application/json")
        #expect(patientLogin == 200)
        let patientBearer = ["Authorization": "Bearer \(try #require(patientTokens?["accessToken"]?.stringValue))"]
        let (readStatus, read) = try await ServeCommandTests.request("GET", "http://127.0.0.1:\(firstPort)/fhir/\(linked)", headers: patientBearer)
        #expect(readStatus == 200)
        #expect(read?["name"]?.arrayValue?.first?["family"] == "Quinn")
        let proxy = try await MedrecProcess.run([
            "user", "add", "--email", "proxy@example.org", "--password", "another long passphrase", "--role", "patient",
            "--patient", String(linked.dropFirst("Patient/".count)), "--data-dir", dataDirectory,
        ])
        #expect(proxy.status == 0, "\(proxy.stderr)")
        #expect(proxy.stdout.contains("linked to \(linked)"))
        let missing = try await MedrecProcess.run([
            "user", "add", "--email", "ghost@example.org", "--password", "another long passphrase", "--role", "doctor",
            "--practitioner", "no-such-practitioner", "--data-dir", dataDirectory,
        ])
        #expect(missing.status != 0)

        // Security gap 11: the email lock lives in PostgreSQL too. Failures split over the two
        // servers (3 on one, 2 on the other) lock the email on both: the right password is then
        // refused with 429 by each.
        func attempt(_ port: Int, _ password: String) async throws -> Int {
            try await ServeCommandTests.request(
                "POST", "http://127.0.0.1:\(port)/auth/login",
                body: FHIRJSON.serialize(.object(["email": "proxy@example.org", "password": .string(password)])),
                contentType: "application/json").0
        }
        for (index, port) in [firstPort, secondPort, firstPort, secondPort].enumerated() {
            #expect(try await attempt(port, "a wrong passphrase \(index)") == 401, "failure \(index + 1)")
        }
        #expect(try await attempt(firstPort, "a wrong passphrase 4") == 429, "the fifth failure locks")
        #expect(try await attempt(secondPort, "another long passphrase") == 429)
        #expect(try await attempt(firstPort, "another long passphrase") == 429)
    }
}
