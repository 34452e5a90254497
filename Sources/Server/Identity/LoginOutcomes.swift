import Synchronization

/// Password sign-ins by outcome since the process started, counted where every sign-in is
/// decided (`SessionService.authenticate`: the API's login and the web's), and exported as
/// `medrec_auth_logins_total{outcome}`. A jump in failures is password guessing; in `locked`, the
/// per-address and per-account throttles at work. Counts only: no email, no user id, no address.
public final class LoginOutcomes: Sendable {
    public enum Outcome: String, Sendable, CaseIterable {
        /// Credentials accepted, account active.
        case success
        /// Unknown email, wrong password, or an account pending approval or disabled.
        case failure
        /// Refused unchecked: the address or the account is throttled after too many failures.
        case locked
    }

    private let successes = Atomic<Int>(0)
    private let failures = Atomic<Int>(0)
    private let lockouts = Atomic<Int>(0)
    private let issued = Atomic<Int>(0)
    private let replays = Atomic<Int>(0)

    /// An access token issued: a password sign-in, a refresh, a client-credentials grant
    /// (`medrec_auth_tokens_issued_total`).
    func recordTokenIssued() { _ = issued.add(1, ordering: .relaxed) }
    /// A spent refresh token presented again, its session revoked (`medrec_auth_refresh_replays_total`):
    /// someone else may hold a copy of it.
    func recordRefreshReplay() { _ = replays.add(1, ordering: .relaxed) }

    public var tokensIssued: Int { issued.load(ordering: .relaxed) }
    public var refreshReplays: Int { replays.load(ordering: .relaxed) }

    public init() {}

    func record(_ outcome: Outcome) {
        switch outcome {
        case .success: _ = successes.add(1, ordering: .relaxed)
        case .failure: _ = failures.add(1, ordering: .relaxed)
        case .locked: _ = lockouts.add(1, ordering: .relaxed)
        }
    }

    public func count(_ outcome: Outcome) -> Int {
        switch outcome {
        case .success: successes.load(ordering: .relaxed)
        case .failure: failures.load(ordering: .relaxed)
        case .locked: lockouts.load(ordering: .relaxed)
        }
    }
}
