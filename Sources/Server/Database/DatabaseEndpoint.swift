import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// Where the database is and how to log in: the embedded cluster, or `MEDREC_DATABASE_URL`.
public struct DatabaseEndpoint: Sendable, Hashable {
    /// libpq's `sslmode` values that matter to a client.
    public enum TLSMode: String, Sendable, Hashable {
        case disable
        case prefer
        /// Encrypt, but do not verify the certificate (libpq semantics).
        case require
        /// Encrypt and verify the certificate chain, not the host name.
        case verifyCA = "verify-ca"
        /// Encrypt and verify the certificate chain and the host name.
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    /// Path of the server's socket file (`<dir>/.s.PGSQL.<port>`). When set, clients connect
    /// through it instead of TCP: no network stack, and the embedded cluster trusts it.
    public var unixSocketPath: String?
    public var tls: TLSMode
    /// How long establishing a connection may take. Kept short so an unreachable database is
    /// reported at start-up within seconds.
    public var connectTimeout: Duration

    public init(
        host: String, port: Int = 5432, username: String, password: String? = nil, database: String,
        unixSocketPath: String? = nil, tls: TLSMode = .prefer, connectTimeout: Duration = .seconds(3)
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.unixSocketPath = unixSocketPath
        self.tls = tls
        self.connectTimeout = connectTimeout
    }

    /// Parses `postgres://user:password@host:port/database?sslmode=...` (also `postgresql://`).
    ///
    /// The port defaults to 5432 and the database to the user name, as with libpq. A `host`
    /// query item naming a directory (`?host=/var/run/postgresql`) selects a unix socket.
    public init(url: String) throws(DatabaseError) {
        func invalid(_ reason: String) -> DatabaseError {
            // The URL may hold a password: say what is wrong, never echo it.
            DatabaseError(.invalidURL, "invalid database URL: \(reason) (expected postgres://user:password@host:port/database)")
        }
        guard let components = URLComponents(string: url) else { throw invalid("not a URL") }
        guard let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            throw invalid("the scheme must be postgres or postgresql")
        }
        guard let user = components.user?.removingPercentEncoding ?? components.user, !user.isEmpty else {
            throw invalid("no user name")
        }
        var port = 5432
        if let given = components.port {
            guard (1...65535).contains(given) else { throw invalid("port out of range") }
            port = given
        }
        var database = components.path
        if database.hasPrefix("/") { database.removeFirst() }
        database = database.removingPercentEncoding ?? database
        if database.isEmpty { database = user }
        guard !database.contains("/") else { throw invalid("the path must be a single database name") }

        var host = components.host.map { $0.removingPercentEncoding ?? $0 } ?? ""
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var tls = TLSMode.prefer
        var socketDirectory: String?
        var timeout = Duration.seconds(3)
        for item in components.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode":
                switch value {
                case "disable", "allow": tls = .disable
                case "prefer": tls = .prefer
                case "require": tls = .require
                case "verify-ca": tls = .verifyCA
                case "verify-full": tls = .verifyFull
                default: throw invalid("unknown sslmode")
                }
            case "host":
                if value.hasPrefix("/") { socketDirectory = value } else if !value.isEmpty { host = value }
            case "connect_timeout":
                guard let seconds = Int(value), seconds > 0 else { throw invalid("connect_timeout must be whole seconds") }
                timeout = .seconds(seconds)
            default:
                continue  // application_name and friends: harmless to ignore
            }
        }
        if host.hasPrefix("/") {
            socketDirectory = host
        }
        if socketDirectory != nil, host.hasPrefix("/") || host.isEmpty { host = "localhost" }
        guard !host.isEmpty else { throw invalid("no host") }

        self.init(
            host: host, port: port, username: user,
            password: components.password.map { $0.removingPercentEncoding ?? $0 },
            database: database,
            unixSocketPath: socketDirectory.map { "\($0)/.s.PGSQL.\(port)" },
            tls: socketDirectory == nil ? tls : .disable,
            connectTimeout: timeout)
    }

    /// The URL without the password, safe to log.
    public var url: String { makeURL(includingPassword: false) }

    /// The URL with the password, for `psql` and other clients (`medrec db url`).
    public var urlIncludingPassword: String { makeURL(includingPassword: true) }

    private func makeURL(includingPassword: Bool) -> String {
        var text = "postgres://" + Self.encode(username)
        if includingPassword, let password { text += ":" + Self.encode(password) }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        text += "@\(hostPart):\(port)/\(Self.encode(database))"
        var query: [String] = []
        if tls != .prefer { query.append("sslmode=\(tls.rawValue)") }
        return query.isEmpty ? text : text + "?" + query.joined(separator: "&")
    }

    private static func encode(_ part: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return part.addingPercentEncoding(withAllowedCharacters: allowed) ?? part
    }

    /// The same server, another database on it (tests, `CREATE DATABASE`).
    public func database(_ name: String) -> DatabaseEndpoint {
        var copy = self
        copy.database = name
        return copy
    }

    /// Configuration for a `PostgresClient` pool.
    ///
    /// - Note: postgres-nio 1.33's pool keeps retrying a refused connection for 60 s (its circuit
    ///   breaker is not configurable) before failing queued queries; call `checkReachable(logger:)`
    ///   first so a wrong URL or a stopped server is reported at once.
    public func clientConfiguration() -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let unixSocketPath {
            configuration = .init(unixSocketPath: unixSocketPath, username: username, password: password, database: database)
        } else {
            configuration = .init(
                host: host, port: port, username: username, password: password, database: database,
                tls: clientTLS)
        }
        configuration.options.connectTimeout = connectTimeout
        return configuration
    }

    /// Configuration for one dedicated `PostgresConnection` (migrations, administration).
    public func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let unixSocketPath {
            configuration = .init(unixSocketPath: unixSocketPath, username: username, password: password, database: database)
        } else {
            configuration = .init(
                host: host, port: port, username: username, password: password, database: database,
                tls: try connectionTLS())
        }
        configuration.options.connectTimeout = TimeAmount.nanoseconds(connectTimeout.nanoseconds)
        return configuration
    }

    private var tlsConfiguration: TLSConfiguration? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch tls {
        case .disable: return nil
        case .prefer, .require: configuration.certificateVerification = .none
        case .verifyCA: configuration.certificateVerification = .noHostnameVerification
        case .verifyFull: configuration.certificateVerification = .fullVerification
        }
        return configuration
    }

    private var clientTLS: PostgresClient.Configuration.TLS {
        guard let configuration = tlsConfiguration else { return .disable }
        return tls == .prefer ? .prefer(configuration) : .require(configuration)
    }

    private func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        guard let configuration = tlsConfiguration else { return .disable }
        let context = try NIOSSLContext(configuration: configuration)
        return tls == .prefer ? .prefer(context) : .require(context)
    }

    /// Where this endpoint points, for messages: host and port or socket, and database. No secrets.
    public var displayLocation: String {
        let place = unixSocketPath ?? "\(host):\(port)"
        return "\(place) (database \(database))"
    }
}
