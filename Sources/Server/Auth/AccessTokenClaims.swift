import JWTKit

/// The payload of an access token (RFC 9068 profile plus the SMART `scope`, `fhirUser`, and our `role` and `sid`).
public struct AccessTokenClaims: JWTPayload, Sendable, Equatable {
    public var issuer: IssuerClaim
    public var audience: AudienceClaim
    public var subject: SubjectClaim
    public var expiration: ExpirationClaim
    public var issuedAt: IssuedAtClaim
    public var notBefore: NotBeforeClaim?
    /// `jti`: a random UUID, the handle for revoking this one token at logout.
    public var id: IDClaim
    public var scope: String
    public var role: String
    /// `Patient/123` or `Practitioner/9`.
    public var fhirUser: String?
    /// `sid`: the refresh-token family, so revoking a session reaches its access tokens; `nil` for client credentials.
    public var sessionID: String?
    /// `client_id` for system clients.
    public var clientID: String?

    public init(
        issuer: IssuerClaim, audience: AudienceClaim, subject: SubjectClaim, expiration: ExpirationClaim,
        issuedAt: IssuedAtClaim, notBefore: NotBeforeClaim? = nil, id: IDClaim, scope: String, role: String,
        fhirUser: String? = nil, sessionID: String? = nil, clientID: String? = nil
    ) {
        self.issuer = issuer
        self.audience = audience
        self.subject = subject
        self.expiration = expiration
        self.issuedAt = issuedAt
        self.notBefore = notBefore
        self.id = id
        self.scope = scope
        self.role = role
        self.fhirUser = fhirUser
        self.sessionID = sessionID
        self.clientID = clientID
    }

    enum CodingKeys: String, CodingKey {
        case issuer = "iss"
        case audience = "aud"
        case subject = "sub"
        case expiration = "exp"
        case issuedAt = "iat"
        case notBefore = "nbf"
        case id = "jti"
        case scope, role, fhirUser
        case sessionID = "sid"
        case clientID = "client_id"
    }

    /// Checks nothing: `AccessTokenService.verify` checks `iss`, `aud`, `exp` and `nbf` against its own
    /// configuration and clock, with leeway, which jwt-kit's hook cannot see.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}
