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

    /// Runs the app; `client` sends every request with a system client's `system/*.cruds`
    /// token unless the request carries its own Authorization header.
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
        try await runSecured(settings: settings, sealer: sealer, database: database) { client, endpoint, _ in
            try await body(client, endpoint)
        }
    }

    /// The app with its security services exposed, for identity and access tests.
    static func runSecured(
        settings: ServerSettings = ServerSettings(), sealer: FieldSealer? = nil, database: DatabaseEndpoint? = nil,
        readDatabase: DatabaseEndpoint? = nil, testing: TestingSetup = .router, signingKeys: JWTSigningKeys = .generate(),
        _ body: @Sendable (any TestClientProtocol, DatabaseEndpoint, SecurityServices) async throws -> Void
    ) async throws {
        try await runBulk(
            settings: settings, sealer: sealer, database: database, readDatabase: readDatabase, testing: testing, signingKeys: signingKeys
        ) {
            client, endpoint, security, _ in try await body(client, endpoint, security)
        }
    }

    /// The app with its bulk service exposed too, for tests that drive bulk workers themselves.
    /// `operations` (metrics, readiness) and `appLogger` (the request logger) are for the
    /// operations tests; the defaults are what every other test runs with. `readDatabase` is the
    /// read replica's (`ReadReplica`), as `MEDREC_DATABASE_READ_URL` gives `medrec serve` one.
    static func runBulk(
        settings: ServerSettings = ServerSettings(), sealer: FieldSealer? = nil, database: DatabaseEndpoint? = nil,
        readDatabase: DatabaseEndpoint? = nil, testing: TestingSetup = .router, signingKeys: JWTSigningKeys = .generate(),
        operations: ServerOperations = ServerOperations(), appLogger: Logger? = nil,
        _ body: @Sendable (any TestClientProtocol, DatabaseEndpoint, SecurityServices, BulkService) async throws -> Void
    ) async throws {
        let endpoint: DatabaseEndpoint
        if let database { endpoint = database } else { endpoint = try await TestDatabase.fresh() }
        let client = PostgresClient(
            configuration: endpoint.clientConfiguration(
                statementTimeoutMilliseconds: settings.limits.statementTimeoutMilliseconds, pool: settings.pool),
            backgroundLogger: logger)
        let readClient = readDatabase.map { endpoint in
            PostgresClient(
                configuration: endpoint.clientConfiguration(
                    statementTimeoutMilliseconds: settings.limits.statementTimeoutMilliseconds, pool: settings.pool),
                backgroundLogger: logger)
        }
        let sealer = try sealer ?? makeSealer()
        let store = PostgresResourceStore(
            client: client, logger: logger, sealer: sealer, replica: readClient.map { ReadReplica(client: $0, logger: logger) })
        let security = try await makeSecurity(settings: settings, client: client, keyring: sealer.keyring, signingKeys: signingKeys)
        let bulk = try BulkService(store: store, security: security, settings: settings.bulk)
        let router = try MedrecApplication.buildRouter(
            store: store, client: client, settings: settings, security: security, bulk: bulk, operations: operations)
        let app = Application(
            router: router, server: MedrecApplication.httpServer(settings), services: [client] + (readClient.map { [$0] } ?? []) + [bulk.worker()], logger: appLogger ?? logger)
        try await app.test(testing) { testClient in
            try await body(try await authorized(testClient, security: security), endpoint, security, bulk)
        }
    }

    /// A client whose requests carry a fresh `system/*.cruds` client token.
    static func authorized(_ client: any TestClientProtocol, security: SecurityServices) async throws -> AuthorizingTestClient {
        AuthorizingTestClient(base: client, token: try await systemToken(security, name: "test-suite"))
    }

    /// A fresh `system/*.cruds` client's access token.
    static func systemToken(_ security: SecurityServices, name: String) async throws -> String {
        let system = try await security.identities.addClient(name: name, scopes: "system/*.cruds")
        return try await security.tokens.issue(
            subject: system.id, role: "system", scope: "system/*.cruds", fhirUser: nil, sessionID: nil, clientID: system.id).token
    }

    /// Fresh signing keys; bcrypt at cost 4 so tests do not spend seconds hashing (the server
    /// itself never goes below 12).
    static func makeSecurity(
        settings: ServerSettings, client: PostgresClient, keyring: Keyring, signingKeys: JWTSigningKeys = .generate()
    ) async throws -> SecurityServices {
        let tokens = try await AccessTokenService(
            keys: signingKeys, issuer: settings.auth.issuer, audience: settings.auth.audience,
            lifetime: TimeInterval(settings.auth.accessTokenSeconds))
        return SecurityServices(
            tokens: tokens, identities: IdentityStore(client: client, logger: logger, keyring: keyring),
            hasher: PasswordHasher(cost: 4, niceness: 0), audit: AuditLog(client: client, logger: logger, auditReads: settings.auth.auditReads),
            client: client, logger: logger)
    }
}

/// Adds a bearer token to requests that have no Authorization header.
struct AuthorizingTestClient: TestClientProtocol {
    let base: any TestClientProtocol
    let token: String

    func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestResponse {
        var fields = headers
        if fields[.authorization] == nil { fields[.authorization] = "Bearer \(token)" }
        // An explicit empty Authorization header means "send none".
        if fields[.authorization] == "" { fields[.authorization] = nil }
        return try await base.executeRequest(uri: uri, method: method, headers: fields, body: body)
    }

    var port: Int? { base.port }
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
