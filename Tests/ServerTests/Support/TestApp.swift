import FHIRModels
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
@testable import Server

/// The real application over a fresh, migrated PostgreSQL database, driven through
/// Hummingbird's in-process test client.
enum TestApp {
    static var logger: Logger {
        var logger = Logger(label: "medrec.tests")
        logger.logLevel = .warning
        return logger
    }

    /// A sealer with fresh random keys and the standard policy, as a configured server has.
    static func makeSealer() throws -> FieldSealer {
        let keyring = try Keyring(
            keys: [(id: "test-key-1", material: Keyring.randomKeyMaterial())], blindIndexKey: Keyring.randomKeyMaterial())
        return FieldSealer(policy: .standard, keyring: keyring)
    }

    static func run(
        settings: ServerSettings = ServerSettings(),
        _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        try await run(settings: settings) { client, _ in try await body(client) }
    }

    /// Runs the app and also hands the test its database, for checks on what is stored.
    static func run(
        settings: ServerSettings = ServerSettings(), sealer: FieldSealer? = nil, database: DatabaseEndpoint? = nil,
        _ body: @Sendable (any TestClientProtocol, DatabaseEndpoint) async throws -> Void
    ) async throws {
        let endpoint: DatabaseEndpoint
        if let database { endpoint = database } else { endpoint = try await TestDatabase.fresh() }
        let client = PostgresClient(
            configuration: endpoint.clientConfiguration(statementTimeoutMilliseconds: settings.limits.statementTimeoutMilliseconds),
            backgroundLogger: logger)
        let store = PostgresResourceStore(client: client, logger: logger, sealer: try sealer ?? makeSealer())
        let router = MedrecApplication.buildRouter(store: store, client: client, settings: settings)
        let app = Application(router: router, services: [client], logger: logger)
        try await app.test(.router) { testClient in
            try await body(testClient, endpoint)
        }
    }
}

/// A response read as FHIR.
struct FHIRTestResponse {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: [UInt8]

    var json: JSONValue {
        get throws { try FHIRJSON.parse(body) }
    }

    var xmlAsJSON: JSONValue {
        get throws { try FHIRXMLReader.resource(from: body) }
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}

extension TestClientProtocol {
    /// Sends a request and collects the response.
    func send(
        _ method: HTTPRequest.Method, _ uri: String, headers: HTTPFields = [:], body: [UInt8]? = nil
    ) async throws -> FHIRTestResponse {
        try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(bytes: $0) }) { response in
            FHIRTestResponse(status: response.status, headers: response.headers, body: Array(response.body.readableBytesView))
        }
    }

    func sendJSON(_ method: HTTPRequest.Method, _ uri: String, _ resource: JSONValue, headers: HTTPFields = [:]) async throws -> FHIRTestResponse {
        var fields = headers
        fields[.contentType] = "application/fhir+json"
        return try await send(method, uri, headers: fields, body: FHIRJSON.serialize(resource))
    }
}
