import FHIRModels
import Foundation
import Hummingbird
import Synchronization
import Testing
@testable import Server

/// Tracing as an operator turns it on (`MEDREC_TRACING=true` and the standard `OTEL_*`
/// variables): `medrec serve` as a child process (the tracer is process-wide, so never in the
/// test process) exports over OTLP/HTTP (JSON here) to a collector on loopback.
@Suite struct TracingTests {
    /// An id as the export writes it (swift-otel's JSON maps bytes to base64, as protobuf's JSON
    /// mapping does) in lowercase hex, as `traceparent` writes it.
    static func hex(_ id: String?) -> String {
        guard let id, let bytes = Data(base64Encoded: id) else { return id?.lowercased() ?? "" }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// Every span in the collected OTLP/JSON export requests: (traceId, spanId, parentSpanId, name).
    static func spans(_ bodies: [Data]) -> [(trace: String, span: String, parent: String, name: String)] {
        var found: [(String, String, String, String)] = []
        for body in bodies {
            guard let json = try? FHIRJSON.parse(Array(body)) else { continue }
            for resource in json["resourceSpans"]?.arrayValue ?? [] {
                for scope in resource["scopeSpans"]?.arrayValue ?? [] {
                    for span in scope["spans"]?.arrayValue ?? [] {
                        found.append((
                            hex(span["traceId"]?.stringValue), hex(span["spanId"]?.stringValue), hex(span["parentSpanId"]?.stringValue),
                            span["name"]?.stringValue ?? ""))
                    }
                }
            }
        }
        return found
    }

    /// A create, a read and a search sent with one W3C `traceparent`: each request's server span
    /// (named by its route template) is a child of the caller's span in the caller's trace, with
    /// database statement spans (`db <kind>`) and the read's audit commit under them. No span, and
    /// nothing in the export, holds the patient's name, the search's value or the token.
    @Test(.timeLimit(.minutes(5)))
    func requestSpansJoinTheCallersTraceAndCarryNoPHI() async throws {
        let received = Mutex<[Data]>([])
        let router = Router()
        router.post("v1/traces") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 16 << 20)
            received.withLock { $0.append(Data(body.readableBytesView)) }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{}")))
        }
        try await LoopbackServer.run(router) { collector in
            let root = try TemporaryDirectory.make(prefix: "medrec-tracing")
            let dataDirectory = root + "/data"
            defer {
                EmbeddedPostgres.stopImmediatelyBlocking(dataDirectory: dataDirectory)
                try? FileManager.default.removeItem(atPath: root)
            }
            let client = try await ServeCommandTests.addClient(dataDirectory: dataDirectory)
            let server = try MedrecProcess.start(["serve", "--data-dir", dataDirectory, "--port", "0"], environment: [
                "MEDREC_TRACING": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": collector, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
                "OTEL_BSP_SCHEDULE_DELAY": "200",
            ])
            defer { server.stop() }
            let port = try ServeCommandTests.port(
                from: try await server.waitForOutput(containing: "listening on http://127.0.0.1:", timeout: .seconds(120)))
            let base = "http://127.0.0.1:\(port)"
            let token = try await ServeCommandTests.token(port: port, client: client)

            let trace = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let parent = String(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16))
            let headers = ["Authorization": "Bearer \(token)", "traceparent": "00-\(trace)-\(parent)-01"]
            let (created, body) = try await ServeCommandTests.request(
                "POST", base + "/fhir/Patient", body: FHIRJSON.serialize(FHIRRestTests.patient), headers: headers)
            #expect(created == 201)
            let id = try #require(body?["id"]?.stringValue)
            #expect(try await ServeCommandTests.request("GET", base + "/fhir/Patient/\(id)", headers: headers).0 == 200)
            #expect(try await ServeCommandTests.request("GET", base + "/fhir/Patient?family=Chalmers", headers: headers).0 == 200)

            var ours: [(trace: String, span: String, parent: String, name: String)] = []
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                ours = Self.spans(received.withLock { $0 }).filter { $0.trace == trace }
                if ours.contains(where: { $0.name == "audit commit" }), ours.filter({ $0.parent == parent }).count >= 3 { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            let servers = ours.filter { $0.parent == parent }
            #expect(Set(servers.map(\.name)) == ["HTTP POST /fhir/{type}", "HTTP GET /fhir/{type}/{id}", "HTTP GET /fhir/{type}"],
                    "server spans: \(servers.map(\.name))")
            let serverIDs = Set(servers.map(\.span))
            let database = ours.filter { $0.name.hasPrefix("db ") }
            #expect(!database.isEmpty && database.allSatisfy { serverIDs.contains($0.parent) }, "\(database.map(\.name))")
            #expect(database.contains { $0.name == "db medrec_insert_new" }, "\(database.map(\.name))")
            let audit = ours.filter { $0.name == "audit commit" }
            #expect(!audit.isEmpty && audit.allSatisfy { serverIDs.contains($0.parent) })

            let export = received.withLock { $0 }.map { String(decoding: $0, as: UTF8.self) }.joined()
            for secret in ["Chalmers", "Peter", "1974-12-25", "urn:oid:1.2.36.146.595.217.0.1", token, client.secret] {
                #expect(!export.contains(secret), "the trace export must not hold \(secret.prefix(12))")
            }
            #expect(await server.terminate() == 0)
        }
    }
}
