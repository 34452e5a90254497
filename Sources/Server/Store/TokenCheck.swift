import Foundation
import PostgresNIO

/// A revocation check of an access token, to run in the same statement as a read (one round
/// trip instead of two for the hottest request). The database must confirm the session (or
/// client) is live, the token id not revoked, and the account's current role and link equal
/// what the token says.
///
/// A token confirmed once carries the revocation epoch it was confirmed at
/// (`confirmedEpoch`, from `ConfirmedTokens`): the statement then only reads the epoch (one
/// row, migration 0007) and runs the full check only when the epoch has moved since. Every
/// revocation moves it in its own transaction, so the answer is as fresh as the full check's.
public struct TokenCheck: Sendable, Equatable {
    public enum Subject: Sendable, Equatable {
        case user(id: String, sessionID: String)
        case client(id: String)
    }

    public let subject: Subject
    public let tokenID: String
    public let role: String
    public let fhirUser: String?
    /// The epoch at which this process last confirmed the token; nil: run the full check.
    public var confirmedEpoch: Int64?

    public init(subject: Subject, tokenID: String, role: String, fhirUser: String?, confirmedEpoch: Int64? = nil) {
        self.subject = subject
        self.tokenID = tokenID
        self.role = role
        self.fhirUser = fhirUser
        self.confirmedEpoch = confirmedEpoch
    }

    /// The check as the `WITH` clause items `token_epoch_now` (the current epoch) and
    /// `token_auth` (the account's role, linked resource and session expiry: a row only when
    /// the epoch moved since `confirmedEpoch` and the session or client is live), reading its
    /// five values from `$first` on, in the order `appendBindings` binds them. The one SQL text
    /// of the check: the record read and the stand-alone confirmation both use it.
    static func withClause(firstParameter first: Int) -> String {
        let session = "$\(first)::text", user = "$\(first + 1)::text", token = "$\(first + 2)::text"
        let client = "$\(first + 3)::text", epoch = "$\(first + 4)::bigint"
        return """
            token_epoch_now AS (SELECT epoch FROM token_epoch WHERE id = 1),
            token_auth AS (
                SELECT u.role, u.fhir_user, s.expires_at FROM auth_session s JOIN app_user u ON u.id = s.user_id
                WHERE \(epoch) IS DISTINCT FROM (SELECT epoch FROM token_epoch_now)
                    AND s.id = \(session) AND u.id = \(user) AND s.revoked_at IS NULL AND s.expires_at > now()
                    AND u.status = 'active' AND NOT EXISTS (SELECT 1 FROM revoked_access_token x WHERE x.jti = \(token))
                UNION ALL
                SELECT 'system', NULL, NULL FROM system_client c
                WHERE \(epoch) IS DISTINCT FROM (SELECT epoch FROM token_epoch_now)
                    AND c.id = \(client) AND c.revoked_at IS NULL
                    AND NOT EXISTS (SELECT 1 FROM revoked_access_token x WHERE x.jti = \(token))
            )
            """
    }

    /// The columns that answer the check, in the order `verdict` takes them.
    static let answerColumns = """
        (SELECT epoch FROM token_epoch_now), (SELECT role FROM token_auth LIMIT 1),
        (SELECT fhir_user FROM token_auth LIMIT 1), (SELECT expires_at FROM token_auth LIMIT 1)
        """

    /// Binds the five values of `withClause` (all NULL when there is no check).
    static func appendBindings(_ check: TokenCheck?, to bindings: inout PostgresBindings) {
        var sessionID: String?
        var userID: String?
        var clientID: String?
        switch check?.subject {
        case .user(let id, let session):
            userID = id
            sessionID = session
        case .client(let id):
            clientID = id
        case nil:
            break
        }
        bindings.append(sessionID)
        bindings.append(userID)
        bindings.append(check?.tokenID)
        bindings.append(clientID)
        bindings.append(check?.confirmedEpoch)
    }

    /// The database's answer: nil when the token must be refused. Unchanged epoch since the
    /// last confirmation: still good. Otherwise the full check ran and must have found the
    /// account with the token's role and linked resource.
    func verdict(epoch: Int64?, role: String?, fhirUser: String?, sessionExpiry: Date?) -> TokenConfirmation? {
        guard let epoch else { return nil }
        if let confirmedEpoch, confirmedEpoch == epoch {
            return TokenConfirmation(epoch: epoch, sessionExpiry: nil, renewed: false)
        }
        guard let role, role == self.role, fhirUser == self.fhirUser else { return nil }
        return TokenConfirmation(epoch: epoch, sessionExpiry: sessionExpiry, renewed: true)
    }
}

/// A positive answer to a `TokenCheck`: the epoch it holds at, and (when the full check ran)
/// when the session ends, for `ConfirmedTokens`.
public struct TokenConfirmation: Sendable, Equatable {
    public let epoch: Int64
    public let sessionExpiry: Date?
    /// True when the full check ran (the cache should learn the new epoch).
    public let renewed: Bool
}

/// The token failed its database check: revoked, session ended, account disabled or changed.
public struct TokenRejected: Error, Sendable {}
