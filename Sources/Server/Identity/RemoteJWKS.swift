import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Fetches the JWKS of clients registered with a JWKS URL, at token time: only URLs the allowlist
/// permits (checked again here, not only at registration), a short timeout, a size cap, and a
/// small cache so that a client's burst of assertions costs one fetch. Each fetched set passes
/// the same checks as a registered one (`ClientKeySet`).
final class RemoteJWKS: @unchecked Sendable {
    let allowlist: URLAllowlist
    let timeout: TimeInterval
    let cacheLifetime: TimeInterval
    static let maxBytes = 64 << 10
    static let maxEntries = 256
    private let lock = NSLock()
    private var cache: [String: (keys: ClientKeySet, fetched: Date)] = [:]

    struct Unavailable: Error, Sendable {
        let reason: String
    }

    init(allowlist: URLAllowlist, timeout: TimeInterval = 5, cacheLifetime: TimeInterval = 300) {
        self.allowlist = allowlist
        self.timeout = timeout
        self.cacheLifetime = cacheLifetime
    }

    /// The key set at `url`, from the cache while fresh. `refresh` skips the cache (a `kid` the
    /// cached set lacks may be a key the client just rotated in).
    func keySet(at url: String, refresh: Bool = false, now: Date = Date()) async throws(Unavailable) -> ClientKeySet {
        guard allowlist.permits(url), let target = URL(string: url) else { throw Unavailable(reason: "JWKS URL not on the allowlist") }
        if !refresh, let cached = lock.withLock({ cache[url] }), now.timeIntervalSince(cached.fetched) < cacheLifetime {
            return cached.keys
        }
        do {
            try await allowlist.checkDestination(target)
        } catch {
            throw Unavailable(reason: "JWKS URL refused: \(error.reason)")
        }
        var request = URLRequest(url: target, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.setValue("application/jwk-set+json, application/json", forHTTPHeaderField: "Accept")
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await OutboundFetch.data(for: request, within: timeout)
        } catch {
            throw Unavailable(reason: "JWKS URL could not be fetched")
        }
        guard let http = response as? HTTPURLResponse, http.statusCode == 200 else { throw Unavailable(reason: "JWKS URL did not answer 200") }
        guard data.count <= Self.maxBytes else { throw Unavailable(reason: "JWKS document too large") }
        let keys: ClientKeySet
        do {
            keys = try ClientKeySet(json: String(decoding: data, as: UTF8.self))
        } catch {
            throw Unavailable(reason: "JWKS document refused: \(error.message)")
        }
        lock.withLock {
            if cache.count >= Self.maxEntries { cache.removeAll() }
            cache[url] = (keys, now)
        }
        return keys
    }
}
