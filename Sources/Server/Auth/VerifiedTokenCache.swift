import Foundation
import Synchronization

/// Tokens whose header, signature, issuer and audience have already been checked, with their
/// claims. A token string is immutable, so a signature that verified once verifies again: the
/// cache spares the Ed25519 check (a fifth of a request's CPU) for the many requests one token
/// makes in its lifetime. Time checks (`exp`, `nbf`) and revocation are still done on every use.
final class VerifiedTokenCache: Sendable {
    private let entries = Mutex<[String: AccessTokenClaims]>([:])
    let capacity: Int

    init(capacity: Int = 20_000) {
        self.capacity = capacity
    }

    func claims(for token: String) -> AccessTokenClaims? {
        entries.withLock { $0[token] }
    }

    /// Remembers a verified token; when full, drops the expired ones, or everything if none has
    /// expired (the cache is an optimisation, never a source of truth).
    func remember(_ token: String, _ claims: AccessTokenClaims, now: Date) {
        entries.withLock { table in
            if table.count >= capacity {
                table = table.filter { $0.value.expiration.value > now }
                if table.count >= capacity { table.removeAll(keepingCapacity: true) }
            }
            table[token] = claims
        }
    }
}
