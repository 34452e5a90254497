import FixtureSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server

/// `medrec demo`: local demo data through the services, refused in production mode.
@Suite struct DemoCommandTests {
    @Test func theModeSettingDefaultsToDevelopmentAndReadsProduction() async throws {
        #expect(try await ServerSettings.load(environment: [:]).mode == .development)
        #expect(try await ServerSettings.load(environment: ["MEDREC_MODE": "production"]).mode == .production)
        #expect(try await ServerSettings.load(environment: ["MEDREC_MODE": "development"]).mode == .development)
        // A typo must not unlock what production refuses.
        #expect(try await ServerSettings.load(environment: ["MEDREC_MODE": "prod"]).mode == .production)
    }

    @Test func productionModeRefusesTheDemoBeforeTouchingAnything() async throws {
        let root = try TemporaryDirectory.make(prefix: "medrec-demo-prod")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let refused = try await MedrecProcess.run(
            ["demo", root, "--data-dir", root + "/data"], environment: ["MEDREC_MODE": "production"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("refused in production mode"), "\(refused.stderr.suffix(500))")
        // No embedded cluster was started (nothing was touched).
        #expect(!FileManager.default.fileExists(atPath: root + "/data"))
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason), .timeLimit(.minutes(5)))
    func theDemoImportsSyntheaPatientsAndMakesFourAccountsThatWork() async throws {
        let root = try TemporaryDirectory.make(prefix: "medrec-demo")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let endpoint = try await TestDatabase.fresh()
        let environment = ["MEDREC_DATABASE_URL": endpoint.urlIncludingPassword, "MEDREC_MODE": "development"]
        let synthea = Fixtures.url("synthea").path
        let demo = try await MedrecProcess.run(["demo", synthea, "--patients", "2", "--data-dir", root], environment: environment)
        #expect(demo.status == 0, "\(demo.stderr.suffix(800))")
        let password = try #require(
            demo.stdout.split(separator: "\n").first { $0.hasPrefix("password: ") }.map { String($0.dropFirst("password: ".count)) })
        #expect(demo.stdout.contains("doctor@demo.medrec.example"))
        #expect(demo.stdout.split(separator: "\n").filter { $0.hasPrefix("imported ") }.count == 2)
        // A second run changes nothing: the accounts exist.
        let again = try await MedrecProcess.run(["demo", synthea, "--patients", "1", "--data-dir", root], environment: environment)
        #expect(again.status != 0)
        #expect(again.stderr.contains("loaded already"), "\(again.stderr.suffix(500))")

        var settings = ServerSettings()
        settings.dataDirectory = root
        let sealer = try await ServeCommand.makeSealer(settings: settings, endpoint: endpoint, logger: TestApp.logger)
        try await TestApp.runSecured(sealer: sealer, database: endpoint) { client, _, security in
            let accounts = Accounts(client: client, security: security)
            // The doctor cares for both imported patients (their Encounters) and is in the directory.
            let doctor = try await accounts.session(email: "doctor@demo.medrec.example", password: password)
            let patients = try await client.send(.get, "/patients", headers: doctor.headers)
            #expect(patients.status == .ok)
            #expect((try patients.json["items"]?.arrayValue ?? []).count == 2, "\(patients.text.prefix(300))")
            let me = try await client.send(.get, "/doctors/\(doctor.resourceID)", headers: doctor.headers)
            #expect(me.status == .ok)
            #expect(try me.json["specialization"]?.stringValue == "General practice")
            #expect((try me.json["workSchedule"]?.arrayValue ?? []).isEmpty == false)
            // The patient account is one of the imported Synthea patients, with its history.
            let patient = try await accounts.session(email: "patient@demo.medrec.example", password: password)
            let observations = try await client.send(.get, "/fhir/Observation?patient=\(patient.resourceID)&_summary=count", headers: patient.headers)
            #expect(observations.status == .ok)
            #expect(Int(try observations.json["total"]?.numberLexical ?? "0") ?? 0 > 10, "\(observations.text.prefix(300))")
            for email in ["billing@demo.medrec.example", "admin@demo.medrec.example"] {
                #expect(try await accounts.login(email: email, password: password).status == .ok, "\(email)")
            }
        }
    }
}
