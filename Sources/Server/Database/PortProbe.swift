#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds loopback TCP ports nobody listens on, for the embedded server.
enum PortProbe {
    /// Whether a server could listen on 127.0.0.1:`port` now. Uses SO_REUSEADDR like PostgreSQL,
    /// so connections of a previous run in TIME_WAIT do not count as busy.
    static func isFree(_ port: Int) -> Bool {
        guard (1024...65535).contains(port) else { return false }
        return bound(port: port) != nil
    }

    /// A free port, preferring 20000-29999: below Linux's ephemeral range (32768+), where an
    /// outgoing connection could take the port while the server is stopped.
    static func pickFree() -> Int {
        for _ in 0..<100 {
            let port = Int.random(in: 20000...29999)
            if isFree(port) { return port }
        }
        return bound(port: 0) ?? 5433
    }

    /// Binds (and closes) a socket; returns the bound port or nil.
    private static func bound(port: Int) -> Int? {
        #if canImport(Darwin)
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #else
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var yes: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        #if canImport(Darwin)
        address.sin_len = UInt8(MemoryLayout<sockaddr_in>.size)
        #endif
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0, listen(descriptor, 1) == 0 else { return nil }
        var actual = sockaddr_in()
        var actualLength = length
        let named = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &actualLength) }
        }
        guard named == 0 else { return nil }
        return Int(UInt16(bigEndian: actual.sin_port))
    }
}
