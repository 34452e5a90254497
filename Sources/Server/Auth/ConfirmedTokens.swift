import Foundation
import Synchronization

/// Access tokens this process has confirmed against the database, by token id, with the
/// revocation epoch (migration 0007) they were confirmed at and when their session ends. A
/// request with a token found here sends that epoch with its own statement, which then only
/// reads the current epoch instead of joining session, account and revoked-token rows; when the
/// epoch has moved, the statement runs the full check and the entry is renewed or the token
/// refused. So the cache never decides anything alone: it only lets the database answer
/// "nothing changed" cheaply. Session expiry is a time, checked here on every use.
final class ConfirmedTokens: Sendable {
    struct Entry: Sendable {
        let epoch: Int64
        let sessionExpiry: Date?
    }

    private let entries = Mutex<[String: Entry]>([:])
    let capacity: Int

    init(capacity: Int = 50_000) {
        self.capacity = capacity
    }

    /// `check` with the epoch it was last confirmed at, when that confirmation still stands
    /// by time (the session has not ended since).
    func prepared(_ check: TokenCheck?, now: Date = Date()) -> TokenCheck? {
        guard var check else { return nil }
        let entry = entries.withLock { $0[check.tokenID] }
        if let entry, entry.sessionExpiry.map({ $0 > now }) ?? true {
            check.confirmedEpoch = entry.epoch
        } else {
            check.confirmedEpoch = nil
        }
        return check
    }

    /// Learns a confirmation that came from the full check; when full, starts over (the cache
    /// is an optimisation, never a source of truth).
    func remember(_ check: TokenCheck, _ confirmation: TokenConfirmation) {
        guard confirmation.renewed else { return }
        entries.withLock { table in
            if table.count >= capacity { table.removeAll(keepingCapacity: true) }
            table[check.tokenID] = Entry(epoch: confirmation.epoch, sessionExpiry: confirmation.sessionExpiry)
        }
    }
}
