import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address range in CIDR notation (`10.20.0.0/16`, `fd00:12::/32`, or one
/// address, `127.0.0.1`). IPv4 is kept as its IPv4-mapped IPv6 form, so one comparison serves both.
public struct IPNetwork: Sendable, Equatable, CustomStringConvertible {
    /// 16 bytes: IPv6, or IPv4 as ::ffff:a.b.c.d.
    let address: [UInt8]
    /// Prefix length over the 16 bytes (an IPv4 /8 is 96 + 8).
    let prefixLength: Int
    public let description: String

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPNetwork.bytes(of: String(parts[0])) else { return nil }
        let isIPv4 = !parts[0].contains(":")
        let maximum = isIPv4 ? 32 : 128
        var length = maximum
        if parts.count == 2 {
            guard parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let given = Int(parts[1]), (0...maximum).contains(given) else { return nil }
            length = given
        }
        self.address = address
        self.prefixLength = isIPv4 ? 96 + length : length
        self.description = text
    }

    func contains(_ other: [UInt8]) -> Bool {
        guard other.count == 16 else { return false }
        var remaining = prefixLength
        for index in 0..<16 where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if address[index] & mask != other[index] & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// The 16-byte form of a textual address (IPv4 mapped), or nil.
    static func bytes(of text: String) -> [UInt8]? {
        if text.contains(":") {
            var value = in6_addr()
            guard inet_pton(AF_INET6, text, &value) == 1 else { return nil }
            return withUnsafeBytes(of: &value) { Array($0) }
        }
        var value = in_addr()
        guard inet_pton(AF_INET, text, &value) == 1 else { return nil }
        return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] + withUnsafeBytes(of: &value) { Array($0) }
    }
}

/// Where a fetch the server makes on a client's behalf (a JWKS URL, a bulk `$import` input) may
/// connect: the allowlisted name is resolved first, and every address it resolves to must be a
/// public one, or inside a network the operator named (`MEDREC_OUTBOUND_PRIVATE_NETWORKS`: a
/// hospital's import source on its own LAN). Loopback, link-local (cloud metadata at
/// 169.254.169.254), private, shared, documentation, multicast and reserved ranges are refused
/// otherwise, so a trusted name that points (or is made to point) inside cannot carry the server
/// there (SSRF).
///
/// Limit, documented in docs/security.md: URLSession resolves the name again when it connects, so
/// a DNS answer that changes between the two lookups (rebinding) is not caught here; the
/// allowlist's hosts are the operator's trusted ones, and a short DNS TTL on them is the risk.
enum OutboundDestination {
    struct Refused: Error, Sendable {
        let reason: String
    }

    /// Ranges that are not the public internet (IANA special-purpose registries, RFC 6890 and
    /// successors), IPv4 in mapped form.
    static let nonPublic: [IPNetwork] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/96", "::1/128", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
        "2002::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    ].map { IPNetwork($0)! }

    /// Whether `address` (16 bytes) may be connected to, given the operator's `permitted` networks.
    static func allows(_ address: [UInt8], permitted: [IPNetwork]) -> Bool {
        if permitted.contains(where: { $0.contains(address) }) { return true }
        return !nonPublic.contains { $0.contains(address) }
    }

    /// Resolves `url`'s host and refuses it unless every address is allowed. A literal address
    /// is checked as it is.
    static func check(_ url: URL, permitted: [IPNetwork]) async throws(Refused) {
        guard var host = url.host, !host.isEmpty else { throw Refused(reason: "the URL has no host") }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let addresses: [[UInt8]]
        if let literal = IPNetwork.bytes(of: host) {
            addresses = [literal]
        } else {
            addresses = await resolve(host)
        }
        guard !addresses.isEmpty else { throw Refused(reason: "the host does not resolve") }
        guard addresses.allSatisfy({ allows($0, permitted: permitted) }) else {
            throw Refused(reason: "the host resolves to an address that is not public")
        }
    }

    /// Every address `host` resolves to (16-byte form). getaddrinfo blocks, so it runs on a
    /// thread of its own, not on one of the cooperative pool's.
    static func resolve(_ host: String) async -> [[UInt8]] {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                var hints = addrinfo()
                hints.ai_family = AF_UNSPEC
                #if canImport(Glibc)
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                #else
                hints.ai_socktype = SOCK_STREAM
                #endif
                var list: UnsafeMutablePointer<addrinfo>?
                guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else {
                    continuation.resume(returning: [])
                    return
                }
                defer { freeaddrinfo(first) }
                var found: [[UInt8]] = []
                var cursor: UnsafeMutablePointer<addrinfo>? = first
                while let entry = cursor {
                    if let socketAddress = entry.pointee.ai_addr {
                        switch entry.pointee.ai_family {
                        case AF_INET:
                            var address = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                            found.append([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] + withUnsafeBytes(of: &address) { Array($0) })
                        case AF_INET6:
                            var address = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                            found.append(withUnsafeBytes(of: &address) { Array($0) })
                        default:
                            break
                        }
                    }
                    cursor = entry.pointee.ai_next
                }
                continuation.resume(returning: found)
            }
            thread.name = "medrec-resolve"
            thread.start()
        }
    }
}
