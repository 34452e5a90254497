import ArgumentParser
import Foundation

/// `medrec client add|list|revoke`: OAuth 2.0 client-credentials clients for partner systems
/// and bulk jobs. A client authenticates with a secret (printed once; only its hash is stored)
/// or, for SMART Backend Services, with JWT assertions signed by keys it registers (`--jwks` or
/// an allowlisted `--jwks-url`); with keys, no secret is issued unless `--with-secret` asks.
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client", abstract: "Manage system clients (OAuth 2.0 client credentials).",
        subcommands: [Add.self, List.self, Revoke.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a client; prints its id (and its secret, if it has one) once.")
        @Option(help: "A name for operators.") var name: String
        @Option(help: "SMART system scopes, space-separated, e.g. \"system/*.rs system/Patient.cruds\".") var scopes: String
        @Option(help: "A JWKS file with the client's public keys (RSA ≥ 2048 bits for RS384, EC P-384 for ES384); the client authenticates with signed assertions (private_key_jwt).")
        var jwks: String?
        @Option(name: .customLong("jwks-url"), help: "A URL serving the client's JWKS, fetched at token time; must start with a prefix of medrec.auth.jwksUrlAllowlist.")
        var jwksURL: String?
        @Flag(name: .customLong("with-secret"), help: "Also issue a client secret when --jwks or --jwks-url is given.")
        var withSecret = false
        @OptionGroup var options: GlobalOptions

        func validate() throws {
            if jwks != nil, jwksURL != nil { throw ValidationError("give --jwks or --jwks-url, not both") }
        }

        func run() async throws {
            let parsed: ScopeSet
            do {
                parsed = try ScopeSet(parsing: scopes)
            } catch {
                throw ValidationError("--scopes: \(error.message)")
            }
            guard !parsed.scopes.isEmpty, parsed.scopes.allSatisfy({ $0.context == .system }), parsed.otherScopes.isEmpty else {
                throw ValidationError("--scopes must be system/ scopes only, e.g. system/*.rs")
            }
            let settings = try await options.settings()
            let keys = try Self.keys(jwksFile: jwks, jwksURL: jwksURL, allowlist: settings.auth.jwksURLAllowlist)
            let name = self.name
            let issueSecret = withSecret || (keys.jwks == nil && keys.url == nil)
            try await CLIDatabase.run(options) { database in
                let client = try await database.identities.addClient(
                    name: name, scopes: parsed.text, jwks: keys.jwks, jwksURL: keys.url, issueSecret: issueSecret)
                print("client_id: \(client.id)")
                if let secret = client.secret { print("client_secret: \(secret)") }
                print("scopes: \(parsed.text)")
                if keys.jwks != nil || keys.url != nil {
                    print("token_endpoint_auth_method: private_key_jwt (\(ClientKeySet.algorithms.joined(separator: " or ")))")
                }
                if client.secret != nil { print("The secret is shown only now; store it in the client's secret store.") }
            }
        }

        /// The keys `--jwks FILE` or `--jwks-url URL` register, checked: the file must be a JWKS of
        /// public RSA (≥ 2048 bits) or P-384 keys and nothing private; the URL must be allowlisted.
        static func keys(
            jwksFile: String?, jwksURL: String?, allowlist: URLAllowlist
        ) throws -> (jwks: ClientKeySet?, url: String?) {
            if let jwksFile {
                let text: String
                do {
                    text = try String(contentsOfFile: jwksFile, encoding: .utf8)
                } catch {
                    throw ValidationError("--jwks: cannot read \(jwksFile)")
                }
                do {
                    return (try ClientKeySet(json: text), nil)
                } catch {
                    throw ValidationError("--jwks: \(error.message)")
                }
            }
            if let jwksURL {
                guard allowlist.permits(jwksURL) else {
                    throw ValidationError(
                        "--jwks-url is not under a prefix of medrec.auth.jwksUrlAllowlist (MEDREC_AUTH_JWKS_URL_ALLOWLIST)")
                }
                return (nil, jwksURL)
            }
            return (nil, nil)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List clients: id, state, authentication method, name, scopes.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await CLIDatabase.run(options) { database in
                for client in try await database.identities.clients() {
                    let methods = client.authMethods.joined(separator: "+")
                    print("\(client.id)\t\(client.revoked ? "revoked" : "active")\t\(methods)\t\(client.name)\t\(client.scopes)")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a client: its secret, keys and live tokens stop working at once.")
        @Argument(help: "The client id.") var id: String
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            let id = self.id
            try await CLIDatabase.run(options) { database in
                guard try await database.identities.revokeClient(id: id) else {
                    throw ValidationError("no active client \(id)")
                }
                print("revoked \(id)")
            }
        }
    }
}
