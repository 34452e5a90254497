/// A revocation check of an access token, to run in the same statement as a read (one round
/// trip instead of two for the hottest request). The database must confirm the session (or
/// client) is live, the token id not revoked, and the account's current role and link equal
/// what the token says.
public struct TokenCheck: Sendable, Equatable {
    public enum Subject: Sendable, Equatable {
        case user(id: String, sessionID: String)
        case client(id: String)
    }

    public let subject: Subject
    public let tokenID: String
    public let role: String
    public let fhirUser: String?

    public init(subject: Subject, tokenID: String, role: String, fhirUser: String?) {
        self.subject = subject
        self.tokenID = tokenID
        self.role = role
        self.fhirUser = fhirUser
    }
}

/// The token failed its database check: revoked, session ended, account disabled or changed.
public struct TokenRejected: Error, Sendable {}
