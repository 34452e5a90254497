import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs PostgreSQL's tools with `posix_spawn`, not Foundation's `Process`.
///
/// On Linux, `Process` learns that a child ended when a socket the child inherits is closed.
/// `pg_ctl start` leaves the server running, the server inherits that socket, and the
/// termination is never noticed: the caller hangs and `pg_ctl` stays a zombie. Here the child
/// gets only stdin (/dev/null), stdout and stderr (a file), every other descriptor is closed,
/// and its exit is collected with `waitpid`.
enum ChildProcess {
    /// Starts `executable` and returns its pid. Output (stdout and stderr) goes to `outputPath`.
    static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String], directory: String?,
        outputPath: String
    ) throws(DatabaseError) -> pid_t {
        #if canImport(Darwin)
        var actions: posix_spawn_file_actions_t? = nil
        var attributes: posix_spawnattr_t? = nil
        #else
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        #if canImport(Darwin)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_CLOEXEC_DEFAULT))
        if let directory { posix_spawn_file_actions_addchdir_np(&actions, directory) }
        #else
        closeInheritedDescriptors(&actions)
        if let directory, let addChdir = Self.addChdir { _ = addChdir(&actions, directory) }
        #endif

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard status == 0 else {
            throw DatabaseError(.commandFailed, "cannot run \(executable): \(String(cString: strerror(status)))")
        }
        return pid
    }

    #if !canImport(Darwin)
    // glibc declares these only for _GNU_SOURCE builds, which Swift's Glibc module is not.
    private typealias AddClosefrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias AddChdir =
        @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    private static let addClosefrom: AddClosefrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np")
        .map { unsafeBitCast($0, to: AddClosefrom.self) }
    private static let addChdir: AddChdir? = dlsym(nil, "posix_spawn_file_actions_addchdir_np")
        .map { unsafeBitCast($0, to: AddChdir.self) }

    /// Closes every descriptor above stderr in the child (glibc 2.34+), or else each inheritable
    /// one open now.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        if let addClosefrom, addClosefrom(&actions, 3) == 0 { return }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for descriptor in open.compactMap(Int32.init) where descriptor > 2 {
            let flags = fcntl(descriptor, F_GETFD)
            if flags >= 0, flags & FD_CLOEXEC == 0 {
                posix_spawn_file_actions_addclose(&actions, descriptor)
            }
        }
    }
    #endif

    /// Waits for `pid` on a thread of its own, not on a concurrency thread.
    static func exitStatus(of pid: pid_t) async -> Int32 {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: waitForExit(pid))
            }
            thread.name = "medrec-waitpid-\(pid)"
            thread.start()
        }
    }

    /// Blocks until `pid` ends; its exit code, or 128 + signal number.
    static func waitForExit(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return -1 }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
