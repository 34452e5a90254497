import Hummingbird
import Synchronization
import Testing

/// A throwaway HTTP server on 127.0.0.1 for tests of outbound fetches (remote key sets, `$import`
/// URLs): it serves `router` on a free port for as long as `body` runs, then stops.
enum LoopbackServer {
    /// Calls `body` with the server's base URL (`http://127.0.0.1:<port>`, no trailing slash).
    static func run<Result: Sendable>(
        _ router: Router<BasicRequestContext>, _ body: (String) async throws -> Result
    ) async throws -> Result {
        let port = Mutex<Int?>(nil)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } })
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            defer { group.cancelAll() }
            var bound: Int?
            for _ in 0..<200 where bound == nil {
                try await Task.sleep(for: .milliseconds(50))
                bound = port.withLock { $0 }
            }
            return try await body("http://127.0.0.1:\(try #require(bound, "the loopback server did not start in 10 s"))")
        }
    }
}
