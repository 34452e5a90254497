import Crypto
import FHIRModels
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing
@testable import Server

@Suite("Exact search on sealed contact details")
struct BlindIndexSearchTests {
    @Test func findsPatientsByEmailAndPhoneWithoutStoringThePlaintext() async throws {
        try await TestApp.run { client, endpoint in
            var ana = try #require(FHIRRestTests.patient.objectValue)
            ana["telecom"] = [["system": "email", "value": "Ana.Souza@Example.org"], ["system": "phone", "value": "+1 (555) 010-7788"]]
            var ben = ana
            ben["telecom"] = [["system": "email", "value": "ben@example.org"], ["system": "phone", "value": "555 010 9900"]]
            let anaID = try #require(try await client.sendJSON(.post, "/fhir/Patient", .object(ana)).json["id"]?.stringValue)
            let benID = try #require(try await client.sendJSON(.post, "/fhir/Patient", .object(ben)).json["id"]?.stringValue)

            func ids(_ query: String) async throws -> [String] {
                let bundle = try await client.send(.get, "/fhir/Patient?\(query)").json
                return (bundle["entry"]?.arrayValue ?? []).compactMap { $0["resource"]?["id"]?.stringValue }
            }
            // Case, whitespace and phone punctuation do not matter.
            #expect(try await ids("email=%20ana.souza@EXAMPLE.org") == [anaID])
            #expect(try await ids("phone=15550107788") == [anaID])
            #expect(try await ids("phone=555-010-9900") == [benID])
            #expect(try await ids("email=nobody@example.org").isEmpty)
            // Observation has no email parameter: refused under strict handling.
            #expect(try await client.send(
                .get, "/fhir/Observation?email=ana.souza@example.org", headers: [.prefer: "handling=strict"]).status == .badRequest)

            // An update re-indexes; a delete removes the rows.
            var changed = try #require(try await client.send(.get, "/fhir/Patient/\(benID)").json.objectValue)
            changed["telecom"] = [["system": "email", "value": "ben.new@example.org"]]
            #expect(try await client.sendJSON(.put, "/fhir/Patient/\(benID)", .object(changed)).status == .ok)
            #expect(try await ids("email=ben@example.org").isEmpty)
            #expect(try await ids("email=ben.new@example.org") == [benID])

            // What is stored is neither the value nor its plain SHA-256.
            let stored: [[UInt8]] = try await endpoint.withConnection(logger: TestApp.logger) { connection in
                let rows = try await connection.query("SELECT encode(hash, 'hex') FROM blind_index WHERE param = 'email'", logger: TestApp.logger)
                var hashes: [[UInt8]] = []
                for try await hex in rows.decode(String.self) {
                    hashes.append(stride(from: 0, to: hex.count, by: 2).map {
                        let start = hex.index(hex.startIndex, offsetBy: $0)
                        return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
                    })
                }
                return hashes
            }
            #expect(stored.count == 2)
            let plain = Array("ana.souza@example.org".utf8)
            #expect(!stored.contains(plain))
            #expect(!stored.contains(Array(SHA256.hash(data: plain))))
        }
    }
}
