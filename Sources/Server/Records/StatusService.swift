import Foundation
import PostgresNIO

/// The server's state for administrators (the web face's status page): version, database
/// (reachable, its server version), the encryption key ring (key ids and the active one,
/// never key material), the bulk job queue by state, and the recent error rate (failed
/// AuditEvents in the last hour; 5xx responses this process answered). Admins only, audited
/// like any other read of the system's state. Knows nothing of HTTP.
public struct StatusService: Sendable {
    let security: SecurityServices

    public init(security: SecurityServices) {
        self.security = security
    }

    public struct Report: Sendable {
        public let version: String
        public let databaseReachable: Bool
        /// `SHOW server_version`, when reachable.
        public let databaseVersion: String?
        public let keyIDs: [String]
        public let activeKeyID: String
        /// Bulk jobs by state (every state listed, zero included); nil when the database did not answer.
        public let jobs: [(status: String, count: Int)]?
        /// AuditEvents recorded in the last hour, and how many of them failed (denials, refusals, errors).
        public let auditLastHour: (failed: Int, total: Int)?
        /// 5xx responses this process has answered since `serverErrorsSince`.
        public let serverErrors: Int
        public let serverErrorsSince: Date
    }

    public func report(as caller: Caller, now: Date = Date()) async throws -> Report {
        let caller = try await security.confirmed(caller)
        let access = AuditedAccess(caller, security: security)
        guard access.principal.role == .admin else {
            try await security.audit.record(access.record(.read, decision: .deny("role"), query: "status"))
            throw AccessDenied(.forbidden, "administrators only")
        }
        let client = security.identities.client
        let logger = security.identities.logger
        let keyring = security.identities.email.keyring
        var databaseVersion: String?
        var jobs: [(status: String, count: Int)]?
        var audit: (failed: Int, total: Int)?
        do {
            let rows = try await client.rows("SHOW server_version", logger: logger)
            for try await version in rows.decode(String.self) { databaseVersion = version }
            let counts = try await BulkJobStore(client: client, logger: logger).countsByStatus()
            let states: [BulkJob.Status] = [.queued, .running, .completed, .failed, .cancelled]
            jobs = states.map { ($0.rawValue, counts[$0] ?? 0) }
            audit = try await AuditRows.failures(since: now.addingTimeInterval(-3600), client: client, logger: logger)
        } catch {
            logger.warning("status: the database did not answer", metadata: ["error": "\(String(reflecting: type(of: error)))"])
        }
        // Recorded after the questions, so this read is not counted in its own report.
        if databaseVersion != nil {
            try await security.audit.record(access.record(.read, query: "status"))
        }
        return Report(
            version: MedrecVersion.current, databaseReachable: databaseVersion != nil, databaseVersion: databaseVersion,
            keyIDs: keyring.keyIDs, activeKeyID: keyring.activeKeyID, jobs: jobs, auditLastHour: audit,
            serverErrors: ServerErrorCount.value, serverErrorsSince: ServerErrorCount.since)
    }
}
