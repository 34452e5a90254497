import Hummingbird
import PostgresNIO

/// Liveness (the process answers) and readiness (the database answers).
struct HealthController<Context: RequestContext>: Sendable {
    let client: PostgresClient

    func addRoutes(to router: RouterGroup<Context>) {
        router.get("health/live") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
        router.get("health/ready") { _, context in
            let ready = await self.databaseAnswers(logger: context.logger)
            return Response(
                status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: ready ? #"{"status":"ready"}"# : #"{"status":"database unavailable"}"#)))
        }
    }

    private func databaseAnswers(logger: Logger) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await client.query("SELECT 1", logger: logger)
                    return true
                } catch {
                    return false
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(3))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}
