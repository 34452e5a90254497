import ArgumentParser
import Foundation

/// `medrec client add|list|revoke`: OAuth 2.0 client-credentials clients for partner systems
/// and bulk jobs. The secret is printed once; only its hash is stored.
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client", abstract: "Manage system clients (OAuth 2.0 client credentials).",
        subcommands: [Add.self, List.self, Revoke.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a client; prints its id and secret once.")
        @Option(help: "A name for operators.") var name: String
        @Option(help: "SMART system scopes, space-separated, e.g. \"system/*.rs system/Patient.cruds\".") var scopes: String
        @OptionGroup var options: GlobalOptions

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
            let name = self.name
            try await CLIDatabase.run(options) { database in
                let client = try await database.identities.addClient(name: name, scopes: parsed.text)
                print("client_id: \(client.id)")
                print("client_secret: \(client.secret)")
                print("scopes: \(parsed.text)")
                print("The secret is shown only now; store it in the client's secret store.")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List clients.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await CLIDatabase.run(options) { database in
                for client in try await database.identities.clients() {
                    print("\(client.id)\t\(client.revoked ? "revoked" : "active")\t\(client.name)\t\(client.scopes)")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a client: its secret and live tokens stop working at once.")
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
