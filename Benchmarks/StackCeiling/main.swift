import Foundation
import Hummingbird
import Logging
import PostgresNIO
import Server

/// The stack's own ceiling for `scripts/bench.sh`: the same Hummingbird + postgres-nio stack and
/// the same pool configuration as `medrec serve`, answering one route that reads one resource's
/// jsonb by primary key with a prepared statement, and nothing else (no token, no access
/// decision, no audit, no sealing). Every read figure of the benchmark is also reported as a
/// ratio to this one, so that what the server adds on top of the stack is visible apart from
/// what the stack and PostgreSQL cost.
///
/// Usage: StackCeiling --database-url URL --port N
@main
struct StackCeiling {
    struct ReadOne: PostgresPreparedStatement {
        static let sql = "SELECT content::text FROM resource WHERE type = $1 AND id = $2"
        typealias Row = String
        let type: String
        let id: String
        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 2)
            bindings.append(type)
            bindings.append(id)
            return bindings
        }
        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(String.self) }
    }

    static func main() async throws {
        var url: String?
        var port = 8090
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = arguments.next() {
            switch argument {
            case "--database-url": url = arguments.next()
            case "--port": port = arguments.next().flatMap(Int.init) ?? port
            default:
                FileHandle.standardError.write(Data("usage: StackCeiling --database-url URL --port N\n".utf8))
                exit(2)
            }
        }
        guard let url else {
            FileHandle.standardError.write(Data("usage: StackCeiling --database-url URL --port N\n".utf8))
            exit(2)
        }
        let logger = {
            var logger = Logger(label: "ceiling")
            logger.logLevel = .warning
            return logger
        }()
        let endpoint = try DatabaseEndpoint(url: url)
        // The server's own settings (environment, config file), so MEDREC_DATABASE_POOL_SIZE
        // and the other pool settings apply to both alike.
        let settings = try await ServerSettings.load()
        let client = PostgresClient(
            configuration: endpoint.clientConfiguration(
                statementTimeoutMilliseconds: settings.limits.statementTimeoutMilliseconds, pool: settings.pool),
            backgroundLogger: logger)
        let router = Router()
        router.get("ceiling/:type/:id") { _, context -> Response in
            let type = try context.parameters.require("type")
            let id = try context.parameters.require("id")
            let rows = try await client.execute(ReadOne(type: type, id: id), logger: logger)
            for try await content in rows {
                return Response(
                    status: .ok, headers: [.contentType: "application/fhir+json"],
                    body: .init(byteBuffer: ByteBuffer(string: content)))
            }
            return Response(status: .notFound)
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "ceiling"),
            services: [client],
            onServerRunning: { channel in
                FileHandle.standardOutput.write(Data("listening on http://127.0.0.1:\(channel.localAddress?.port ?? 0)\n".utf8))
            },
            logger: logger)
        try await app.runService()
    }
}
