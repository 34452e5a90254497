import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A private PostgreSQL cluster in medrec's data directory, so `medrec serve` works with no
/// database set up beforehand.
///
/// - First start runs `initdb` (UTF8, collation `C` for stable index order, ctype `C.UTF-8` where the
///   system has it so `lower()` handles non-ASCII letters). Later starts reuse the cluster.
/// - It listens on 127.0.0.1 only, on a port picked once and kept in `postgres.port` (picked again
///   if another program took it), and on a unix socket in a private 0700 directory.
/// - Authentication: `trust` on the unix socket, which only the cluster's OS user (and root) can
///   open; `scram-sha-256` on TCP with a generated password kept in `postgres.password` (0600), so
///   other local users cannot reach patient data through the port.
/// - As root, the cluster runs as the `postgres` OS user (see `ClusterLayout` for where it lives).
/// - A server left running by a crashed medrec is adopted; a stale `postmaster.pid` is removed.
///
/// As a `Service`, `run()` waits for graceful shutdown and then stops the server it started.
/// Put it first in the `ServiceGroup` so it is shut down last, after everything using it.
public actor EmbeddedPostgres: Service {
    public struct Options: Sendable {
        /// The application database created on first start.
        public var databaseName = "medrec"
        /// `false` turns off fsync and synchronous commit: for throwaway test clusters only.
        public var durable = true
        /// Extra `postgresql.conf` settings (name to value, values as in the file), applied last.
        public var settings: [String: String] = [:]
        /// The directory of `initdb`/`pg_ctl` (`medrec.pgBin`); nil finds them (`PostgresBinaries.locate`).
        public var binariesDirectory: String?
        /// How often `run()` checks that the server it started is still there, and starts it
        /// again if not; nil: never.
        public var watchInterval: Duration? = .seconds(2)
        public init() {}
    }

    /// The superuser `initdb` creates; medrec connects as it.
    public static let superuser = "medrec"

    public nonisolated let dataDirectory: String
    private let options: Options
    private let logger: Logger

    private struct Running {
        let endpoint: DatabaseEndpoint
        let binaries: PostgresBinaries
        let user: ClusterUser
        let layout: ClusterLayout
        /// Whether this process stops the server on shutdown (it started or adopted it).
        let ownsServer: Bool
    }
    private var running: Running?
    private var pendingStart: Task<DatabaseEndpoint, any Error>?

    /// - Parameter dataDirectory: medrec's data directory (`--data-dir`, default `./.medrec`);
    ///   the cluster goes in its `postgres` subdirectory.
    public init(dataDirectory: String, options: Options = Options(), logger: Logger) {
        self.dataDirectory = ClusterLayout.absolute(dataDirectory)
        self.options = options
        self.logger = logger
    }

    /// Where to connect while the server runs.
    public var endpoint: DatabaseEndpoint? { running?.endpoint }

    /// Initialises the cluster if needed, starts it (or attaches to it if it already runs) and
    /// creates the application database. Calling it again returns the same endpoint.
    public func start() async throws -> DatabaseEndpoint {
        if let running { return running.endpoint }
        if let pendingStart { return try await pendingStart.value }
        let task = Task { try await self.performStart() }
        pendingStart = task
        defer { pendingStart = nil }
        return try await task.value
    }

    /// Stops the server with `pg_ctl -m fast` (open sessions are rolled back, data is flushed) if
    /// this process started it; a server another medrec process owns is left running.
    public func stop() async throws {
        guard let current = running else { return }
        running = nil
        guard current.ownsServer else {
            logger.info("leaving the embedded PostgreSQL server running: another medrec process owns it")
            return
        }
        try await Self.withClusterLock(current.layout) {
            try await Self.stopServer(binaries: current.binaries, user: current.user, layout: current.layout, logger: logger)
        }
    }

    public func run() async throws {
        if let interval = options.watchInterval {
            try? await cancelWhenGracefulShutdown { try await self.watch(every: interval) }
        } else {
            try? await gracefulShutdown()
        }
        try await stop()
    }

    // MARK: - Watching

    /// Starts the server again when it has stopped by itself. PostgreSQL shuts down for good
    /// after a PANIC its crash recovery cannot get past (WAL on a full disk: the recovery fails
    /// the same way and the postmaster exits), and then nothing else would start it: medrec
    /// answered 503 until it was restarted by hand (`scripts/fault-test.py --only disk`). A
    /// start that fails (the disk still full) is tried again, 2 s, 4 s, … up to 30 s apart; the
    /// pool reconnects by itself once the server listens on its port again.
    private func watch(every interval: Duration) async throws {
        var delay = interval
        // The cluster being started again; `running` is nil until a start succeeds.
        var restarting: Running?
        while true {
            try await Task.sleep(for: delay)
            guard let current = running ?? restarting, current.ownsServer else { continue }
            if let file = PostmasterPIDFile.read(pgdata: current.layout.pgdata), file.isLive(pgdata: current.layout.pgdata) {
                delay = interval
                continue
            }
            // Its log says why; it is not copied here (statements in it may quote values).
            logger.error(
                "the embedded PostgreSQL server has stopped by itself; starting it again",
                metadata: ["postgresLog": "\(current.layout.logFile)"])
            running = nil
            restarting = current
            do {
                let endpoint = try await start()
                restarting = nil
                if endpoint.port != current.endpoint.port {
                    // The pool keeps the old port: a restart of medrec picks the new one up.
                    logger.critical(
                        "the embedded PostgreSQL server came back on another port; restart medrec",
                        metadata: ["port": "\(endpoint.port)"])
                }
                logger.notice("the embedded PostgreSQL server runs again")
                delay = interval
            } catch {
                logger.error(
                    "the embedded PostgreSQL server did not start again; trying later",
                    metadata: ["reason": "\(DatabaseError.reason(for: error))", "retryIn": "\(delay * 2)"])
                delay = min(delay * 2, .seconds(30))
            }
        }
    }

    // MARK: - Starting

    private func performStart() async throws -> DatabaseEndpoint {
        let user = try ClusterUser.forCurrentProcess()
        try Self.createDirectory(dataDirectory, mode: user.isCurrentUser ? 0o700 : 0o711)
        let layout = try await resolveLayout(user: user)
        return try await Self.withClusterLock(layout) {
            let preferredVersion = Self.clusterMajorVersion(layout)
            let binaries = try PostgresBinaries.locate(
                directory: options.binariesDirectory, preferringMajorVersion: preferredVersion)
            let password = try Self.loadOrCreatePassword(layout)
            try Self.createDirectory(layout.root, mode: 0o700)
            try user.takeOwnership(of: layout.root)
            try Self.createDirectory(layout.socketDirectory, mode: 0o700)
            try user.takeOwnership(of: layout.socketDirectory)

            if !Self.isInitialized(layout) {
                try await initialize(layout: layout, binaries: binaries, user: user, password: password)
            } else if let version = preferredVersion, let found = try? await Self.majorVersion(of: binaries, user: user),
                found != version
            {
                throw DatabaseError(
                    .clusterStartFailed,
                    "the embedded cluster in \(layout.root) was created by PostgreSQL \(version) but the binaries in "
                        + "\(binaries.directory) are version \(found): set MEDREC_PG_BIN to a PostgreSQL \(version) bin "
                        + "directory, or dump the data and remove \(layout.root)")
            }

            let ownsServer: Bool
            let port: Int
            if let live = try await waitForSettledServer(layout), let livePort = live.port {
                port = livePort
                ownsServer = Self.adoptIfOrphaned(layout)
                logger.info(
                    "attached to the running embedded PostgreSQL server",
                    metadata: ["port": "\(port)", "owned": "\(ownsServer)"])
            } else {
                port = try await startServer(layout: layout, binaries: binaries, user: user)
                ownsServer = true
                try Self.writeFile(layout.ownerFile, "\(getpid())\n", mode: 0o644)
            }
            try Self.writeFile(layout.portFile, "\(port)\n", mode: 0o644)

            let endpoint = DatabaseEndpoint(
                host: "127.0.0.1", port: port, username: Self.superuser, password: password,
                database: options.databaseName,
                unixSocketPath: layout.socketPath(port: port).flatMap {
                    FileManager.default.fileExists(atPath: $0) ? $0 : nil
                },
                tls: .disable)
            do {
                try await Self.createDatabaseIfMissing(endpoint, logger: logger)
            } catch {
                if ownsServer {
                    try? await Self.stopServer(binaries: binaries, user: user, layout: layout, logger: logger)
                }
                throw error
            }
            running = Running(endpoint: endpoint, binaries: binaries, user: user, layout: layout, ownsServer: ownsServer)
            return endpoint
        }
    }

    /// The recorded layout, or a new one: in the data directory when the cluster user can reach
    /// it, else under that user's home (recorded in `postgres.location`).
    private func resolveLayout(user: ClusterUser) async throws -> ClusterLayout {
        if let existing = ClusterLayout.existing(in: dataDirectory) { return existing }
        if await user.canTraverse(to: dataDirectory) {
            return ClusterLayout(dataDirectory: dataDirectory, root: dataDirectory + "/postgres")
        }
        guard let home = user.home, FileManager.default.fileExists(atPath: home) else {
            throw DatabaseError(
                .clusterStartFailed,
                "the '\(user.name)' user cannot reach \(dataDirectory) and has no home directory to keep the cluster in: "
                    + "use a --data-dir it can traverse (e.g. under /var/lib/medrec) or set MEDREC_DATABASE_URL")
        }
        let parent = home + "/medrec-clusters"
        try Self.createDirectory(parent, mode: 0o700)
        try user.takeOwnership(of: parent)
        let root = parent + "/" + ClusterLayout.relocatedName(for: dataDirectory)
        logger.info(
            "the postgres OS user cannot traverse to the data directory; keeping the embedded cluster in its home",
            metadata: ["cluster": "\(root)"])
        try Self.writeFile(ClusterLayout.locationFile(in: dataDirectory), root + "\n", mode: 0o644)
        return ClusterLayout(dataDirectory: dataDirectory, root: root)
    }

    private static let includeLine = "include_if_exists = 'medrec.conf'"

    private static func isInitialized(_ layout: ClusterLayout) -> Bool {
        guard FileManager.default.fileExists(atPath: layout.pgdata + "/PG_VERSION"),
            let configuration = try? String(contentsOfFile: layout.pgdata + "/postgresql.conf", encoding: .utf8)
        else { return false }
        return configuration.contains(includeLine)
    }

    private static func clusterMajorVersion(_ layout: ClusterLayout) -> Int? {
        (try? String(contentsOfFile: layout.pgdata + "/PG_VERSION", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    private static func majorVersion(of binaries: PostgresBinaries, user: ClusterUser) async throws -> Int? {
        // "pg_ctl (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)"
        let outcome = try await user.run(binaries.pgCtl, ["--version"])
        let words = outcome.output.split(separator: " ")
        guard let index = words.firstIndex(of: "(PostgreSQL)"), index + 1 < words.count else { return nil }
        return words[index + 1].split(separator: ".").first.flatMap { Int($0) }
    }

    private func initialize(layout: ClusterLayout, binaries: PostgresBinaries, user: ClusterUser, password: String)
        async throws
    {
        if FileManager.default.fileExists(atPath: layout.pgdata) {
            // Only an interrupted initdb leaves PGDATA without our include line.
            logger.warning("removing an incompletely initialised embedded cluster", metadata: ["pgdata": "\(layout.pgdata)"])
            try FileManager.default.removeItem(atPath: layout.pgdata)
        }
        logger.info("initialising the embedded PostgreSQL cluster", metadata: ["pgdata": "\(layout.pgdata)"])
        let passwordFile = layout.root + "/initdb-password"
        try Self.writeFile(passwordFile, password + "\n", mode: 0o600)
        try user.takeOwnership(of: passwordFile)
        defer { try? FileManager.default.removeItem(atPath: passwordFile) }

        var arguments = [
            "-D", layout.pgdata, "-U", Self.superuser, "--pwfile=\(passwordFile)", "-E", "UTF8",
            "--auth-local=trust", "--auth-host=scram-sha-256", "--locale=C",
        ]
        if !options.durable { arguments.append("--no-sync") }
        var outcome = try await user.run(binaries.initdb, arguments + ["--lc-ctype=C.UTF-8"], in: layout.root)
        if !outcome.succeeded, outcome.output.contains("locale") {
            // Systems without a C.UTF-8 locale: plain C (lower() then only folds ASCII).
            try? FileManager.default.removeItem(atPath: layout.pgdata)
            outcome = try await user.run(binaries.initdb, arguments, in: layout.root)
        }
        guard outcome.succeeded else {
            throw DatabaseError(.clusterStartFailed, "initdb failed in \(layout.pgdata): \(outcome.tail())")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: layout.pgdata + "/postgresql.conf"))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(
            contentsOf: Data("\n# medrec: settings of the embedded server, rewritten at each start\n\(Self.includeLine)\n".utf8))
    }

    /// Waits out a server that is starting or stopping; returns the live, ready one, or nil after
    /// clearing a stale pid file.
    private func waitForSettledServer(_ layout: ClusterLayout) async throws -> PostmasterPIDFile? {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            guard let file = PostmasterPIDFile.read(pgdata: layout.pgdata) else { return nil }
            guard file.isLive(pgdata: layout.pgdata) else {
                logger.notice("removing a stale postmaster.pid left by a crash", metadata: ["pid": "\(file.pid)"])
                try? FileManager.default.removeItem(atPath: file.path)
                let sockets = (try? FileManager.default.contentsOfDirectory(atPath: layout.socketDirectory)) ?? []
                for name in sockets where name.hasPrefix(".s.PGSQL.") {
                    try? FileManager.default.removeItem(atPath: layout.socketDirectory + "/" + name)
                }
                return nil
            }
            if file.status == "ready" || file.status == nil || ContinuousClock.now > deadline {
                return file
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// The server another medrec started is ours to stop only if that process is gone.
    private static func adoptIfOrphaned(_ layout: ClusterLayout) -> Bool {
        if let text = try? String(contentsOfFile: layout.ownerFile, encoding: .utf8),
            let owner = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)),
            owner != getpid(), kill(owner, 0) == 0
        {
            return false
        }
        try? writeFile(layout.ownerFile, "\(getpid())\n", mode: 0o644)
        return true
    }

    /// Starts the server and returns the port it listens on.
    private func startServer(layout: ClusterLayout, binaries: PostgresBinaries, user: ClusterUser) async throws -> Int {
        Self.rotateLog(layout)
        var port = Self.persistedPort(layout).flatMap { PortProbe.isFree($0) ? $0 : nil } ?? PortProbe.pickFree()
        for attempt in 1...3 {
            try writeServerSettings(layout: layout, port: port, user: user)
            logger.info("starting the embedded PostgreSQL server", metadata: ["port": "\(port)"])
            let outcome = try await user.run(
                binaries.pgCtl, ["-D", layout.pgdata, "-l", layout.logFile, "-w", "-t", "120", "-s", "start"],
                in: layout.root)
            if outcome.succeeded {
                return PostmasterPIDFile.read(pgdata: layout.pgdata)?.port ?? port
            }
            let log = Self.logTail(layout)
            if attempt < 3, log.contains("could not bind") || log.contains("already in use") {
                port = PortProbe.pickFree()
                continue
            }
            throw DatabaseError(
                .clusterStartFailed,
                "the embedded PostgreSQL server did not start (log: \(layout.logFile)): \(log.isEmpty ? outcome.tail() : log)")
        }
        throw DatabaseError(.clusterStartFailed, "the embedded PostgreSQL server did not start: no free port")
    }

    /// `medrec.conf`, included last by `postgresql.conf`. `ALTER SYSTEM` still overrides it.
    private func writeServerSettings(layout: ClusterLayout, port: Int, user: ClusterUser) throws {
        func quoted(_ value: String) -> String { "'" + value.replacingOccurrences(of: "'", with: "''") + "'" }
        var settings: [(String, String)] = [
            ("listen_addresses", quoted("127.0.0.1")),
            ("port", "\(port)"),
            ("unix_socket_directories", quoted(layout.socketPath(port: port) == nil ? "" : layout.socketDirectory)),
            ("unix_socket_permissions", "0700"),
            ("ssl", "off"),
            ("max_connections", "100"),
            ("shared_buffers", quoted("512MB")),
            ("work_mem", quoted("16MB")),
            ("maintenance_work_mem", quoted("256MB")),
            ("effective_cache_size", quoted("4GB")),
            // Search is short index lookups: SSD page costs, and no JIT compiling (tens of ms)
            // for queries the planner merely estimates as large.
            ("random_page_cost", "1.1"),
            ("jit", "off"),
            ("max_wal_size", quoted("2GB")),
            ("checkpoint_completion_target", "0.9"),
            ("timezone", quoted("UTC")),
            ("log_timezone", quoted("UTC")),
            // A failing statement's text may hold patient data: keep it out of the server log.
            ("log_min_error_statement", "panic"),
        ]
        if !options.durable {
            settings += [("fsync", "off"), ("synchronous_commit", "off"), ("full_page_writes", "off")]
        }
        settings += options.settings.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let text =
            "# Written by medrec at each start of the embedded server; changes here are lost.\n"
            + "# Use ALTER SYSTEM (postgresql.auto.conf) for lasting changes.\n"
            + settings.map { "\($0.0) = \($0.1)\n" }.joined()
        let path = layout.pgdata + "/medrec.conf"
        try Self.writeFile(path, text, mode: 0o600)
        try user.takeOwnership(of: path)
    }

    private static func persistedPort(_ layout: ClusterLayout) -> Int? {
        (try? String(contentsOfFile: layout.portFile, encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Keeps the server log of a long-lived dev cluster from growing without bound.
    private static func rotateLog(_ layout: ClusterLayout) {
        let size = (try? FileManager.default.attributesOfItem(atPath: layout.logFile)[.size] as? Int) ?? 0
        guard size > 10_000_000 else { return }
        try? FileManager.default.removeItem(atPath: layout.logFile + ".1")
        try? FileManager.default.moveItem(atPath: layout.logFile, toPath: layout.logFile + ".1")
    }

    /// The last FATAL/ERROR lines of the server log, which say why it did not start.
    private static func logTail(_ layout: ClusterLayout) -> String {
        guard let text = try? String(contentsOfFile: layout.logFile, encoding: .utf8) else { return "" }
        let lines = text.split(whereSeparator: \.isNewline).suffix(20)
        let important = lines.filter { $0.contains("FATAL") || $0.contains("ERROR") || $0.contains("HINT") }
        return (important.isEmpty ? Array(lines.suffix(2)) : Array(important.suffix(3))).joined(separator: " | ")
    }

    private static func createDatabaseIfMissing(_ endpoint: DatabaseEndpoint, logger: Logger) async throws {
        let name = endpoint.database
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }), !name.isEmpty else {
            throw DatabaseError(.clusterStartFailed, "database name must be letters, digits and underscores")
        }
        try await endpoint.database("postgres").withConnection(logger: logger) { connection in
            let rows = try await connection.query("SELECT 1 FROM pg_database WHERE datname = \(name)", logger: logger)
            for try await _ in rows { return }
            do {
                try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \"\(name)\""), logger: logger)
                logger.info("created the application database", metadata: ["database": "\(name)"])
            } catch where DatabaseError.sqlState(of: error) == "42P04" {
                return  // created meanwhile by another medrec process
            }
        }
    }

    // MARK: - Stopping

    static func stopServer(binaries: PostgresBinaries, user: ClusterUser, layout: ClusterLayout, logger: Logger)
        async throws
    {
        logger.info("stopping the embedded PostgreSQL server")
        let outcome = try await user.run(
            binaries.pgCtl, ["-D", layout.pgdata, "-m", "fast", "-w", "-t", "60", "-s", "stop"], in: layout.root)
        try? FileManager.default.removeItem(atPath: layout.ownerFile)
        guard outcome.succeeded || outcome.output.contains("Is server running?") else {
            throw DatabaseError(.commandFailed, "pg_ctl stop failed for \(layout.pgdata): \(outcome.tail())")
        }
    }

    // MARK: - Files

    private static func createDirectory(_ path: String, mode: Int) throws {
        guard !FileManager.default.fileExists(atPath: path) else { return }
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: mode])
        } catch {
            throw DatabaseError(.clusterStartFailed, "cannot create \(path): \(error.localizedDescription)")
        }
    }

    static func writeFile(_ path: String, _ text: String, mode: Int) throws {
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: mode])
        else {
            throw DatabaseError(.clusterStartFailed, "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw DatabaseError(.clusterStartFailed, "cannot write \(path): \(reason)")
        }
    }

    private static func loadOrCreatePassword(_ layout: ClusterLayout) throws -> String {
        if let stored = try? String(contentsOfFile: layout.passwordFile, encoding: .utf8) {
            let password = stored.trimmingCharacters(in: .whitespacesAndNewlines)
            if !password.isEmpty { return password }
        }
        var generator = SystemRandomNumberGenerator()
        let password = (0..<32).map { _ in String(UInt8.random(in: 0...15, using: &generator), radix: 16) }.joined()
        try writeFile(layout.passwordFile, password + "\n", mode: 0o600)
        return password
    }

    /// Serialises start and stop between medrec processes sharing a data directory (two
    /// `initdb`s or a stop racing a start would break the cluster).
    static func withClusterLock<Result>(
        _ layout: ClusterLayout,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> Result
    ) async throws -> Result {
        let descriptor = open(layout.lockFile, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw DatabaseError(.clusterStartFailed, "cannot open \(layout.lockFile): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }  // releases the lock
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await body()
    }
}

extension EmbeddedPostgres {
    /// What an operator's client needs for the cluster in `dataDirectory`, read from the files
    /// without starting anything; nil when no cluster was ever started there.
    public static func recordedEndpoint(
        dataDirectory: String, databaseName: String = Options().databaseName
    ) -> (endpoint: DatabaseEndpoint, isRunning: Bool)? {
        let directory = ClusterLayout.absolute(dataDirectory)
        guard let layout = ClusterLayout.existing(in: directory), isInitialized(layout) else { return nil }
        let live = PostmasterPIDFile.read(pgdata: layout.pgdata).flatMap { $0.isLive(pgdata: layout.pgdata) ? $0 : nil }
        guard let port = live?.port ?? persistedPort(layout) else { return nil }
        let password = (try? String(contentsOfFile: layout.passwordFile, encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let endpoint = DatabaseEndpoint(
            host: "127.0.0.1", port: port, username: superuser, password: password, database: databaseName,
            unixSocketPath: layout.socketPath(port: port), tls: .disable)
        return (endpoint, live != nil)
    }

    /// Stops the cluster in `dataDirectory` whoever started it (`medrec db stop`). Returns false
    /// when it was not running.
    public static func stopRecordedCluster(
        dataDirectory: String, binariesDirectory: String? = nil, logger: Logger
    ) async throws -> Bool {
        let directory = ClusterLayout.absolute(dataDirectory)
        guard let layout = ClusterLayout.existing(in: directory),
            let pidFile = PostmasterPIDFile.read(pgdata: layout.pgdata), pidFile.isLive(pgdata: layout.pgdata)
        else { return false }
        let user = try ClusterUser.forCurrentProcess()
        let binaries = try PostgresBinaries.locate(
            directory: binariesDirectory, preferringMajorVersion: clusterMajorVersion(layout))
        try await withClusterLock(layout) {
            try await stopServer(binaries: binaries, user: user, layout: layout, logger: logger)
        }
        return true
    }

    /// Stops the cluster in `dataDirectory` immediately and synchronously: for `atexit` handlers
    /// of test processes, where no async context is left.
    static func stopImmediatelyBlocking(dataDirectory: String) {
        let directory = ClusterLayout.absolute(dataDirectory)
        guard let layout = ClusterLayout.existing(in: directory),
            let user = try? ClusterUser.forCurrentProcess(),
            let binaries = try? PostgresBinaries.locate(preferringMajorVersion: clusterMajorVersion(layout))
        else { return }
        _ = user.runBlocking(
            binaries.pgCtl, ["-D", layout.pgdata, "-m", "immediate", "-w", "-t", "30", "-s", "stop"], in: layout.root)
    }
}
