import Hummingbird
import PostgresNIO

/// Liveness (the process answers) and readiness (this replica should get traffic).
///
/// Readiness answers 503 with a JSON body that says why:
/// - `{"status":"draining"}` from SIGTERM on (`Readiness`, `ShutdownDrain`), before any check;
/// - `{"status":"unavailable","failed":[…]}` naming the failed checks: `database` (no answer to
///   `SELECT 1` within 3 s), `audit` (the audit log's last commit failed, within the last minute,
///   and none has succeeded since: reads could not be recorded, so they are refused).
///
/// No keyring check: the ring is read once at start and cannot lose its active key while the
/// process runs (`Keyring.init` refuses such a ring and `serve` exits). The failure that does
/// happen at runtime, rows sealed under a key added on another replica after this one started,
/// shows only by scanning `resource.key_id`, which is not for a probe every second
/// (`medrec keys status` reports it).
struct HealthController<Context: RequestContext>: Sendable {
    let client: PostgresClient
    let readiness: Readiness
    let audit: AuditLog?

    func addRoutes(to router: RouterGroup<Context>) {
        router.get("health/live") { _, _ in
            Self.answer(.ok, #"{"status":"ok"}"#)
        }
        router.get("health/ready") { _, context in
            if self.readiness.probe() {
                return Self.answer(.serviceUnavailable, #"{"status":"draining"}"#)
            }
            var failed: [String] = []
            let answered = await self.databaseAnswers(logger: context.logger)
            if !answered { failed.append("database") }
            if self.audit?.isFailing() == true { failed.append("audit") }
            guard failed.isEmpty else {
                let names = failed.map { "\"\($0)\"" }.joined(separator: ",")
                return Self.answer(.serviceUnavailable, #"{"status":"unavailable","failed":["# + names + "]}")
            }
            return Self.answer(.ok, #"{"status":"ready"}"#)
        }
    }

    private static func answer(_ status: HTTPResponse.Status, _ json: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    private func databaseAnswers(logger: Logger) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await client.rows("SELECT 1", logger: logger)
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
