import FHIRModels
import FixtureSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing
@testable import Server

/// Field encryption as the database sees it: no sealed plaintext in a full dump, and rows that
/// were tampered with fail closed.
@Suite("Field encryption in the store")
struct EncryptionStoreTests {
    static func pgDump(_ endpoint: DatabaseEndpoint) async throws -> String {
        let candidates = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.sorted().reversed()
            .map { "/usr/lib/postgresql/\($0)/bin/pg_dump" } ?? []
        let executable = try #require((candidates + ["/usr/bin/pg_dump"]).first { FileManager.default.isExecutableFile(atPath: $0) })
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("medrec-dump-\(UUID().uuidString).sql")
        defer { try? FileManager.default.removeItem(at: output) }
        // Not a blocking wait: see ExternalTool.
        let result = try await ExternalTool.run(executable, ["--dbname=\(endpoint.urlIncludingPassword)", "--file=\(output.path)", "--no-owner"])
        #expect(result.status == 0, "pg_dump exit status \(result.status)")
        return try String(contentsOf: output, encoding: .utf8)
    }

    /// Text content of an XHTML div, for narrative fragments.
    static func narrativeText(_ div: String) -> String {
        var text = ""
        var inTag = false
        for character in div {
            if character == "<" { inTag = true } else if character == ">" { inTag = false } else if !inTag { text.append(character) }
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func aFullDumpHoldsNoSealedPlaintextAndTheAPIStillReturnsIt() async throws {
        let files = Fixtures.files(in: "synthea", withExtension: "json")
        try await TestApp.run { client, endpoint in
            var secrets: Set<String> = []
            // A practitioner's work address is its organization's, which is not sealed (not PHI).
            var organizationLines: Set<String> = []
            var patients: [(path: String, original: JSONValue)] = []
            for file in files {
                let bundle = try FHIRJSON.parse(Data(contentsOf: file))
                let response = try await client.send(
                    .post, "/fhir", headers: [.contentType: "application/fhir+json"], body: Array(try Data(contentsOf: file)))
                #expect(response.status == .ok)
                let results = try #require(try response.json["entry"]?.arrayValue)
                for (entry, result) in zip(bundle["entry"]?.arrayValue ?? [], results) {
                    guard let resource = entry["resource"], let type = resource["resourceType"]?.stringValue else { continue }
                    if type == "Patient" || type == "Practitioner" {
                        for telecom in resource["telecom"]?.arrayValue ?? [] {
                            if let value = telecom["value"]?.stringValue, value.count >= 7 { secrets.insert(value) }
                        }
                        for address in resource["address"]?.arrayValue ?? [] {
                            for line in address["line"]?.arrayValue ?? [] { if let line = line.stringValue { secrets.insert(line) } }
                        }
                    }
                    if type == "Organization" {
                        for address in resource["address"]?.arrayValue ?? [] {
                            for line in address["line"]?.arrayValue ?? [] { if let line = line.stringValue { organizationLines.insert(line) } }
                        }
                    }
                    if let div = resource["text"]?["div"]?.stringValue {
                        let text = Self.narrativeText(div)
                        if text.count >= 12 { secrets.insert(String(text.prefix(40))) }
                    }
                    if type == "Patient", let location = result["response"]?["location"]?.stringValue {
                        patients.append((String(location.split(separator: "/_history")[0]), resource))
                    }
                }
            }
            secrets.subtract(organizationLines)
            #expect(secrets.count > Fixtures.expected(full: 60, vendored: 15), "every patient contributes a phone number and an address line")
            #expect(patients.count == Fixtures.expected(full: 34, vendored: 8))

            let dump = try await Self.pgDump(endpoint)
            #expect(dump.contains("COPY public.resource"), "the dump holds the resource table")
            let leaked = secrets.filter { dump.contains($0) }
            #expect(leaked.isEmpty, "\(leaked.count) sealed values appear in the dump")

            // The API returns every sealed element unchanged.
            for (path, original) in patients {
                let read = try await client.send(.get, "/fhir/\(path)").json
                #expect(read["telecom"] == original["telecom"], "\(path)")
                #expect(read["address"] == original["address"], "\(path)")
                #expect(read["text"] == original["text"], "\(path)")
            }
        }
    }

    @Test func swappedOrFlippedCiphertextFailsClosed() async throws {
        try await TestApp.run { client, endpoint in
            var alice = try #require(FHIRRestTests.patient.objectValue)
            alice["telecom"] = [["system": "phone", "value": "555-0100-ALICE"]]
            var bob = alice
            bob["telecom"] = [["system": "phone", "value": "555-0199-BOB"]]
            let aliceID = try #require(try await client.sendJSON(.post, "/fhir/Patient", .object(alice)).json["id"]?.stringValue)
            let bobID = try #require(try await client.sendJSON(.post, "/fhir/Patient", .object(bob)).json["id"]?.stringValue)
            let carol = try await client.sendJSON(.post, "/fhir/Patient", .object(bob)).json
            let carolID = try #require(carol["id"]?.stringValue)
            #expect(try await client.send(.get, "/fhir/Patient/\(bobID)").json["telecom"] == bob["telecom"])

            try await endpoint.withConnection(logger: TestApp.logger) { connection in
                // Alice's sealed column copied into Bob's row.
                try await connection.query(
                    """
                    UPDATE resource SET sealed = (SELECT sealed FROM resource WHERE id = \(aliceID)), key_id = (SELECT key_id FROM resource WHERE id = \(aliceID))
                    WHERE id = \(bobID)
                    """, logger: TestApp.logger)
                // One bit flipped in Carol's.
                try await connection.query(
                    "UPDATE resource SET sealed = set_bit(sealed, 100, 1 - get_bit(sealed, 100)) WHERE id = \(carolID)",
                    logger: TestApp.logger)
            }
            for id in [bobID, carolID] {
                let read = try await client.send(.get, "/fhir/Patient/\(id)")
                #expect(read.status == .internalServerError)
                #expect(try read.json["resourceType"] == "OperationOutcome")
                #expect(!read.text.contains("555-0100") && !read.text.contains("555-0199") && !read.text.contains("Chalmers"))
            }
            // The server keeps serving other requests.
            #expect(try await client.send(.get, "/fhir/Patient/\(aliceID)").json["telecom"] == alice["telecom"])
        }
    }
}
