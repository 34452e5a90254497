import FHIRModels
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
@testable import Server

/// `medrec serve` as an operator runs it: embedded database, data kept across restarts,
/// clean stop on SIGTERM.
@Suite struct ServeCommandTests {
    static func request(
        _ method: String, _ url: String, body: [UInt8]? = nil, contentType: String = "application/fhir+json",
        headers: [String: String] = [:]
    ) async throws -> (Int, JSONValue?) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        if let body {
            request.httpBody = Data(body)
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        return (status, data.isEmpty ? nil : try? FHIRJSON.parse(data))
    }

    static func port(from output: String) throws -> Int {
        let line = try #require(output.split(separator: "\n").first { $0.hasPrefix("listening on http://") })
        return try #require(Int(line.split(separator: ":").last ?? ""))
    }

    /// `medrec client add` output: the client id and secret.
    static func addClient(dataDirectory: String, scopes: String = "system/*.cruds") async throws -> (id: String, secret: String) {
        let result = try await MedrecProcess.run(["client", "add", "--name", "serve-test", "--scopes", scopes, "--data-dir", dataDirectory])
        #expect(result.status == 0, "\(result.stderr)")
        func value(_ prefix: String) throws -> String {
            let line = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix(prefix) })
            return String(line.dropFirst(prefix.count))
        }
        return (try value("client_id: "), try value("client_secret: "))
    }

    /// A client-credentials access token from `POST /auth/token` with HTTP Basic.
    static func token(port: Int, client: (id: String, secret: String)) async throws -> String {
        let basic = Data("\(client.id):\(client.secret)".utf8).base64EncodedString()
        let (status, body) = try await request(
            "POST", "http://127.0.0.1:\(port)/auth/token", body: Array("grant_type=client_credentials".utf8),
            contentType: "application/x-www-form-urlencoded", headers: ["Authorization": "Basic \(basic)"])
        #expect(status == 200)
        return try #require(body?["access_token"]?.stringValue)
    }

    @Test func keepsDataAcrossRestartsAndStopsCleanly() async throws {
        let dataDirectory = try TemporaryDirectory.make(prefix: "medrec-serve") + "/data"
        defer {
            EmbeddedPostgres.stopImmediatelyBlocking(dataDirectory: dataDirectory)
            try? FileManager.default.removeItem(atPath: (dataDirectory as NSString).deletingLastPathComponent)
        }
        // The operator registers a system client before the first start (the CLI runs the
        // embedded cluster itself), then the client gets a token over HTTP.
        let client = try await Self.addClient(dataDirectory: dataDirectory)
        let first = try MedrecProcess.start(["serve", "--data-dir", dataDirectory, "--port", "0"])
        let output = try await first.waitForOutput(containing: "listening on http://127.0.0.1:", timeout: .seconds(120))
        let port = try Self.port(from: output)
        let (liveStatus, _) = try await Self.request("GET", "http://127.0.0.1:\(port)/health/ready")
        #expect(liveStatus == 200)
        let (anonymousStatus, _) = try await Self.request(
            "POST", "http://127.0.0.1:\(port)/fhir/Patient", body: FHIRJSON.serialize(FHIRRestTests.patient))
        #expect(anonymousStatus == 401)
        let token = try await Self.token(port: port, client: client)
        let (createdStatus, created) = try await Self.request(
            "POST", "http://127.0.0.1:\(port)/fhir/Patient", body: FHIRJSON.serialize(FHIRRestTests.patient),
            headers: ["Authorization": "Bearer \(token)"])
        #expect(createdStatus == 201)
        let id = try #require(created?["id"]?.stringValue)

        #expect(await first.terminate() == 0)
        #expect(EmbeddedPostgres.recordedEndpoint(dataDirectory: dataDirectory)?.isRunning == false, "the cluster stops with the server")

        let url = try await MedrecProcess.run(["db", "url", "--data-dir", dataDirectory])
        #expect(url.status == 0)
        #expect(url.stdout.hasPrefix("postgres://"))

        let second = try MedrecProcess.start(["serve", "--data-dir", dataDirectory, "--port", "0"])
        let secondOutput = try await second.waitForOutput(containing: "listening on http://127.0.0.1:", timeout: .seconds(120))
        let secondPort = try Self.port(from: secondOutput)
        // The signing keys live in the data directory: a token from before the restart still works.
        let (readStatus, read) = try await Self.request(
            "GET", "http://127.0.0.1:\(secondPort)/fhir/Patient/\(id)", headers: ["Authorization": "Bearer \(token)"])
        #expect(readStatus == 200)
        #expect(read?["birthDate"] == "1974-12-25")
        #expect(await second.terminate() == 0)
        // No PHI in the server's log: the family name never appears.
        #expect(!first.output.contains("Chalmers") && !second.output.contains("Chalmers"))
    }

    @Test func saysWhatToInstallWhenPostgreSQLIsMissing() async throws {
        let empty = try TemporaryDirectory.make(prefix: "medrec-nobin")
        let result = try await MedrecProcess.run(
            ["serve", "--data-dir", empty + "/data", "--port", "0"], environment: ["MEDREC_PG_BIN": empty])
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("MEDREC_PG_BIN") || result.stderr.contains("install"))
    }
}
