import Foundation
import Logging
import Metrics
import PostgresNIO
import Synchronization

/// Who made a write, as read-your-writes tracks it (`caller_write`, migration 0013): a user or a
/// system client. Never a name or an email: the row holds the id only.
public struct WriterKey: Sendable, Hashable {
    public let text: String

    public init(_ principal: Principal) {
        text = (principal.role == .system ? "client:" : "user:") + principal.subject
    }
}

/// Where a staleness-tolerant read of this task runs (`ReadReplica.route`).
public enum ReadRoute: Sendable, Equatable {
    case primary
    case replica
}

/// A streaming standby of the primary (`MEDREC_DATABASE_READ_URL`) for the reads that tolerate
/// its lag: searches (with `_include`, `_total`) and history. Everything else stays on the
/// primary: reads by id (their token check is fused into the read's statement and must be fresh),
/// writes, audit, token and access checks (a revoked session or care relationship must not be
/// honoured from a stale copy), transactions and bulk jobs.
///
/// Read-your-writes, across every medrec process: each resource write by a caller bumps that
/// caller's row of `caller_write` **in the write's own transaction** (`PostgresResourceStore`,
/// only when a replica is configured). Before a search the caller's count is read on the primary
/// and on the replica; the replica serves only when it has replayed the caller's last bump, and
/// since the bump committed with the write, then it has replayed the write too. Other callers'
/// writes may be missing from a replica search for as long as the replica lags: that is the
/// staleness the routed reads accept.
///
/// A replica that fails (connection refused, a lease not granted within `leaseLimit`, a
/// recovery conflict) sends reads to the primary for `cooldown`; the read that met the failure
/// is run again on the primary, so a replica outage costs no request.
public final class ReadReplica: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// How long a replica lease may wait: short, since the primary can serve instead.
    static let leaseLimit: Duration = .seconds(2)
    static let cooldown: Duration = .seconds(5)
    private let downUntil = Mutex<ContinuousClock.Instant?>(nil)

    /// The route of the reads of the current task; `.primary` unless `PostgresResourceStore.routingReads` set it.
    @TaskLocal static var route: ReadRoute = .primary

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The caller's bump, in the write's transaction.
    static func bump(_ writer: WriterKey) -> PostgresQuery {
        """
        INSERT INTO caller_write (caller, seq) VALUES (\(writer.text), 1)
        ON CONFLICT (caller) DO UPDATE SET seq = caller_write.seq + 1
        """
    }

    static func count(of writer: WriterKey) -> PostgresQuery {
        "SELECT seq FROM caller_write WHERE caller = \(writer.text)"
    }

    var isCoolingDown: Bool {
        downUntil.withLock { until in
            guard let deadline = until else { return false }
            if ContinuousClock.now < deadline { return true }
            until = nil
            return false
        }
    }

    func markDown(_ reason: String) {
        let first = downUntil.withLock { until in
            defer { until = ContinuousClock.now + Self.cooldown }
            return until == nil
        }
        if first { logger.warning("read replica unavailable; reads go to the primary", metadata: ["reason": "\(reason)"]) }
    }

    /// Where `writer`'s staleness-tolerant reads go now. `primary` is the store's pool.
    func route(for writer: WriterKey?, primary: PostgresClient) async -> ReadRoute {
        guard !isCoolingDown else { return Self.counted(.primary, "replica_down") }
        guard let writer else { return Self.counted(.replica, "no_writes") }
        let own: Int64
        do {
            own = try await Self.seq(of: writer, on: primary, cap: nil, logger: logger)
        } catch {
            // The primary's own trouble: the read will meet it there and answer for it.
            return Self.counted(.primary, "primary_error")
        }
        guard own > 0 else { return Self.counted(.replica, "no_writes") }
        do {
            let replayed = try await Self.seq(of: writer, on: client, cap: Self.leaseLimit, logger: logger)
            return replayed >= own ? Self.counted(.replica, "caught_up") : Self.counted(.primary, "own_write_pending")
        } catch {
            markDown("lookup failed")
            return Self.counted(.primary, "replica_down")
        }
    }

    /// Runs `body` on the replica; on a failure that is the replica's (not the query's), marks
    /// it down and runs `body` on `primary` instead.
    func run<Result>(primary: PostgresClient, _ body: (PostgresClient) async throws -> Result) async throws -> Result {
        do {
            return try await PoolLeaseLimit.$cap.withValue(Self.leaseLimit) { try await body(client) }
        } catch where Self.isReplicasFault(error) {
            markDown("query failed")
            Self.counted(.primary, "replica_failed")
            return try await body(primary)
        }
    }

    /// Connection trouble, a lease not granted in time, or a hot-standby recovery conflict
    /// (40001: a query cancelled because replay needed its rows). A statement timeout is not:
    /// the same query would take as long on the primary.
    static func isReplicasFault(_ error: any Error) -> Bool {
        if let store = error as? StoreError { return store.code == .unavailable }
        guard let error = error as? PSQLError else { return false }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .uncleanShutdown:
            return true
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            return state == "40001" || state.hasPrefix("08") || state == "57P01" || state == "57P02" || state == "57P03"
        default:
            return false
        }
    }

    private static func seq(of writer: WriterKey, on client: PostgresClient, cap: Duration?, logger: Logger) async throws -> Int64 {
        try await PoolLeaseLimit.$cap.withValue(cap) {
            let rows = try await client.rows(count(of: writer), logger: logger)
            for try await seq in rows.decode(Int64.self) { return seq }
            return 0
        }
    }

    @discardableResult
    static func counted(_ route: ReadRoute, _ reason: String) -> ReadRoute {
        Counter(label: "medrec_read_route_total", dimensions: [("route", route == .replica ? "replica" : "primary"), ("reason", reason)])
            .increment()
        return route
    }
}
