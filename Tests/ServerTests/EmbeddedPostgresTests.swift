import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Testing
@testable import Server

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Each test runs its own cluster in its own data directory (not the shared test cluster).
@Suite struct EmbeddedPostgresTests {
    let logger = TestDatabase.logger

    func count(_ endpoint: DatabaseEndpoint) async throws -> Int {
        try await endpoint.withConnection(logger: logger) { connection in
            let rows = try await connection.query("SELECT count(*)::int FROM kept", logger: logger)
            for try await value in rows.decode(Int.self) { return value }
            return -1
        }
    }

    @Test func startsRestartsOnTheSameDataDirectoryAndKeepsData() async throws {
        let dataDirectory = try TemporaryDirectory.make(prefix: "medrec-embedded")
        defer {
            EmbeddedPostgres.stopImmediatelyBlocking(dataDirectory: dataDirectory)
            try? FileManager.default.removeItem(atPath: dataDirectory)
        }

        let first = EmbeddedPostgres(dataDirectory: dataDirectory, logger: logger)
        let endpoint = try await first.start()
        #expect(endpoint.host == "127.0.0.1")
        #expect(endpoint.database == "medrec")
        #expect(endpoint.url == "postgres://medrec@127.0.0.1:\(endpoint.port)/medrec?sslmode=disable")
        let passwordMode = try FileManager.default.attributesOfItem(atPath: dataDirectory + "/postgres.password")[.posixPermissions] as? Int
        #expect(passwordMode == 0o600)
        #expect(EmbeddedPostgres.recordedEndpoint(dataDirectory: dataDirectory)?.isRunning == true)

        try await endpoint.withConnection(logger: logger) { connection in
            try await connection.query("CREATE TABLE kept (x int)", logger: logger)
            try await connection.query("INSERT INTO kept VALUES (1), (2)", logger: logger)
        }
        // TCP needs the password: other local users cannot get in through the port.
        var withoutPassword = endpoint
        withoutPassword.unixSocketPath = nil
        withoutPassword.password = nil
        await #expect(throws: DatabaseError.self) { try await withoutPassword.checkReachable(logger: logger) }
        var overTCP = endpoint
        overTCP.unixSocketPath = nil
        try await overTCP.checkReachable(logger: logger)

        try await first.stop()
        #expect(EmbeddedPostgres.recordedEndpoint(dataDirectory: dataDirectory)?.isRunning == false)
        await #expect(throws: DatabaseError.self) { try await overTCP.checkReachable(logger: logger) }

        let second = EmbeddedPostgres(dataDirectory: dataDirectory, logger: logger)
        let restarted = try await second.start()
        #expect(restarted.port == endpoint.port)
        #expect(restarted.password == endpoint.password)
        #expect(try await count(restarted) == 2)
        try await second.stop()

        // Another program took the port meanwhile: a new one is picked and remembered.
        let squatter = try ListeningSocket(port: endpoint.port)
        defer { squatter.close() }
        let third = EmbeddedPostgres(dataDirectory: dataDirectory, logger: logger)
        let moved = try await third.start()
        #expect(moved.port != endpoint.port)
        #expect(try await count(moved) == 2)
        let persisted = try String(contentsOfFile: dataDirectory + "/postgres.port", encoding: .utf8)
        #expect(persisted == "\(moved.port)\n")
        try await third.stop()
    }

    @Test func startsAfterACrashLeftAStalePostmasterPID() async throws {
        let dataDirectory = try TemporaryDirectory.make(prefix: "medrec-stale")
        defer {
            EmbeddedPostgres.stopImmediatelyBlocking(dataDirectory: dataDirectory)
            try? FileManager.default.removeItem(atPath: dataDirectory)
        }
        var options = EmbeddedPostgres.Options()
        options.durable = false
        let cluster = EmbeddedPostgres(dataDirectory: dataDirectory, options: options, logger: logger)
        _ = try await cluster.start()
        try await cluster.stop()

        // In a container the dead server's pid is often reused; this test process's pid is alive
        // and not postgres, the case PostgreSQL itself refuses to start over.
        let layout = try #require(ClusterLayout.existing(in: ClusterLayout.absolute(dataDirectory)))
        let stale = "\(getpid())\n\(layout.pgdata)\n1700000000\n5432\n\(layout.socketDirectory)\n127.0.0.1\n  1234     5678\nready   \n"
        try stale.write(toFile: layout.pgdata + "/postmaster.pid", atomically: true, encoding: .utf8)
        #expect(EmbeddedPostgres.recordedEndpoint(dataDirectory: dataDirectory)?.isRunning == false)

        let again = EmbeddedPostgres(dataDirectory: dataDirectory, options: options, logger: logger)
        let endpoint = try await again.start()
        try await endpoint.checkReachable(logger: logger)
        try await again.stop()
    }

    /// A postmaster that stopped by itself (here SIGKILL; in `scripts/fault-test.py --only disk`
    /// a PANIC on a full WAL disk) is started again by the running service, on the same port,
    /// so the pool reconnects without a restart of medrec. A cluster stopped by `stop()` is not.
    @Test(.timeLimit(.minutes(2)))
    func theServiceStartsAServerThatStoppedByItselfAgain() async throws {
        let dataDirectory = try TemporaryDirectory.make(prefix: "medrec-watch")
        defer {
            EmbeddedPostgres.stopImmediatelyBlocking(dataDirectory: dataDirectory)
            try? FileManager.default.removeItem(atPath: dataDirectory)
        }
        var options = EmbeddedPostgres.Options()
        options.durable = false
        options.watchInterval = .milliseconds(200)
        let cluster = EmbeddedPostgres(dataDirectory: dataDirectory, options: options, logger: logger)
        let endpoint = try await cluster.start()
        let group = ServiceGroup(configuration: .init(services: [cluster], logger: logger))
        let service = Task { try await group.run() }
        let layout = try #require(ClusterLayout.existing(in: ClusterLayout.absolute(dataDirectory)))
        let first = try #require(PostmasterPIDFile.read(pgdata: layout.pgdata))
        #expect(kill(first.pid, SIGKILL) == 0)

        var back: PostmasterPIDFile?
        for _ in 0..<300 {
            try await Task.sleep(for: .milliseconds(100))
            if let file = PostmasterPIDFile.read(pgdata: layout.pgdata), file.pid != first.pid, file.isLive(pgdata: layout.pgdata),
                (try? await endpoint.checkReachable(logger: logger)) != nil
            {
                back = file
                break
            }
        }
        let restarted = try #require(back, "the killed server was not started again within 30 s")
        #expect(restarted.port == first.port)

        // Stopping the service stops the server, and nothing starts it again.
        await group.triggerGracefulShutdown()
        try await service.value
        try await Task.sleep(for: .milliseconds(600))
        #expect(PostmasterPIDFile.read(pgdata: layout.pgdata) == nil)
        await #expect(throws: DatabaseError.self) { try await endpoint.checkReachable(logger: logger) }
    }

    @Test func aStoppedDatabaseIsReportedWithinSeconds() async throws {
        let port = PortProbe.pickFree()
        let endpoint = try DatabaseEndpoint(url: "postgres://u:p@127.0.0.1:\(port)/d?sslmode=disable")
        // The refusal itself is the answer (not a timeout, not the pool's minute of retries). A
        // wall-clock bound here measured the loaded test process, not the check: on CI the whole
        // parallel suite held both cooperative threads and a 0.01 s refusal resumed after 51 s.
        await #expect {
            try await endpoint.checkReachable(logger: logger)
        } throws: { error in
            (error as? DatabaseError)?.code == .unreachable && "\(error)".contains("127.0.0.1:\(port)")
                && "\(error)".contains("connection refused")
        }
    }

    @Test func aServerThatNeverAnswersIsReportedWithinTheConnectTimeout() async throws {
        // The kernel accepts the connection; nothing ever answers PostgreSQL's startup message.
        let port = PortProbe.pickFree()
        let silent = try ListeningSocket(port: port)
        defer { silent.close() }
        let endpoint = try DatabaseEndpoint(url: "postgres://u:p@127.0.0.1:\(port)/d?sslmode=disable&connect_timeout=2")
        let started = ContinuousClock.now
        await #expect {
            try await endpoint.checkReachable(logger: logger)
        } throws: { error in
            // Ended by the URL's 2 s connect timeout, not by the pool's minute of retries: the
            // message names the timeout. (No upper wall-clock bound: under the parallel suite the
            // test's own resumption can wait far longer than the check, as seen on CI.)
            // postgres-nio's own timer ("Connect timeout (2 s)") or ours ("no connection within 2"), whichever fires first.
            (error as? DatabaseError)?.code == .unreachable
                && ("\(error)".contains("Connect timeout (2 s)") || "\(error)".contains("no connection within 2"))
        }
        #expect(ContinuousClock.now - started >= .seconds(2))
    }

    @Test func stopsWhenTheServiceGroupShutsDown() async throws {
        let dataDirectory = try TemporaryDirectory.make(prefix: "medrec-service")
        defer {
            EmbeddedPostgres.stopImmediatelyBlocking(dataDirectory: dataDirectory)
            try? FileManager.default.removeItem(atPath: dataDirectory)
        }
        var options = EmbeddedPostgres.Options()
        options.durable = false
        let cluster = EmbeddedPostgres(dataDirectory: dataDirectory, options: options, logger: logger)
        let endpoint = try await cluster.start()
        let group = ServiceGroup(services: [cluster], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await endpoint.checkReachable(logger: logger)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(EmbeddedPostgres.recordedEndpoint(dataDirectory: dataDirectory)?.isRunning == false)
        await #expect(throws: DatabaseError.self) { try await endpoint.checkReachable(logger: logger) }
    }

    /// After medrec is killed its server keeps running: the next medrec adopts it and stops it on
    /// shutdown, unless the medrec that started it is still alive (then it is only attached to).
    @Test func adoptsAServerWhoseMedrecDiedButNotOneStillInUse() async throws {
        // A path too long for a unix socket: the cluster then listens on TCP only.
        let parent = try TemporaryDirectory.make(prefix: "medrec-adopt")
        let dataDirectory = parent + "/" + String(repeating: "long-directory-name/", count: 5) + "data"
        defer {
            EmbeddedPostgres.stopImmediatelyBlocking(dataDirectory: dataDirectory)
            try? FileManager.default.removeItem(atPath: parent)
        }
        var options = EmbeddedPostgres.Options()
        options.durable = false
        let first = EmbeddedPostgres(dataDirectory: dataDirectory, options: options, logger: logger)
        let endpoint = try await first.start()
        #expect(endpoint.unixSocketPath == nil)
        try await endpoint.checkReachable(logger: logger)

        // The owner is another live process (our parent stands in for a running medrec serve).
        try "\(getppid())\n".write(toFile: dataDirectory + "/postgres.owner", atomically: true, encoding: .utf8)
        let attached = EmbeddedPostgres(dataDirectory: dataDirectory, options: options, logger: logger)
        #expect(try await attached.start().port == endpoint.port)
        try await attached.stop()
        #expect(EmbeddedPostgres.recordedEndpoint(dataDirectory: dataDirectory)?.isRunning == true)

        // The owner is gone (a pid that has exited).
        let exited = try ChildProcess.spawn("/bin/sh", ["-c", "exit 0"], environment: [:], directory: nil, outputPath: "/dev/null")
        _ = ChildProcess.waitForExit(exited)
        try "\(exited)\n".write(toFile: dataDirectory + "/postgres.owner", atomically: true, encoding: .utf8)
        let adopting = EmbeddedPostgres(dataDirectory: dataDirectory, options: options, logger: logger)
        #expect(try await adopting.start().port == endpoint.port)
        try await adopting.stop()
        #expect(EmbeddedPostgres.recordedEndpoint(dataDirectory: dataDirectory)?.isRunning == false)
    }

    /// As root, a data directory the `postgres` user cannot traverse gets its cluster in that
    /// user's home, recorded in `postgres.location`, and works the same.
    @Test(.enabled(if: geteuid() == 0, "only root runs the cluster as another user"))
    func keepsTheClusterInPostgresHomeWhenTheDataDirectoryIsPrivate() async throws {
        let parent = try TemporaryDirectory.make(prefix: "medrec-private")
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: parent)
        let dataDirectory = parent + "/data"
        var root: String?
        defer {
            EmbeddedPostgres.stopImmediatelyBlocking(dataDirectory: dataDirectory)
            if let root { try? FileManager.default.removeItem(atPath: root) }
            try? FileManager.default.removeItem(atPath: parent)
        }
        var options = EmbeddedPostgres.Options()
        options.durable = false
        let cluster = EmbeddedPostgres(dataDirectory: dataDirectory, options: options, logger: logger)
        let endpoint = try await cluster.start()
        let location = try String(contentsOfFile: dataDirectory + "/postgres.location", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        root = location
        #expect(!location.hasPrefix(parent))
        #expect(FileManager.default.fileExists(atPath: location + "/data/PG_VERSION"))
        try await endpoint.checkReachable(logger: logger)
        try await cluster.stop()
        // Restarting finds the recorded location again.
        let again = EmbeddedPostgres(dataDirectory: dataDirectory, options: options, logger: logger)
        #expect(try await again.start().port == endpoint.port)
        try await again.stop()
    }
}

/// A TCP listener on 127.0.0.1, standing in for another program that took a port.
private struct ListeningSocket {
    let descriptor: Int32

    init(port: Int) throws {
        #if canImport(Darwin)
        descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #else
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        // The stopped cluster's connections may leave the port in TIME_WAIT; a squatter that
        // listens is what the test needs, so allow the bind as PostgreSQL itself would.
        var reuse: Int32 = 1
        _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(descriptor, 1) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EADDRINUSE) }
    }

    func close() {
        #if canImport(Glibc)
        _ = Glibc.close(descriptor)
        #else
        _ = Darwin.close(descriptor)
        #endif
    }
}
