import Foundation
import Logging
import PostgresNIO

/// Everything the routes need for identity, access and audit, built once per server.
public struct SecurityServices: Sendable {
    public let tokens: AccessTokenService
    public let identities: IdentityStore
    public let hasher: PasswordHasher
    public let audit: AuditLog
    let relationships: CareRelationshipLookup
    let addressThrottle: AddressThrottle
    /// Key sets of clients registered with a JWKS URL (allowlisted URLs only).
    let remoteKeys: RemoteJWKS
    /// Tokens confirmed at a revocation epoch (migration 0007), so that the per-request check
    /// reads one row while nothing was revoked.
    let confirmedTokens = ConfirmedTokens()
    /// Sign-ins by outcome, for `medrec_auth_logins_total` (`ServerMetrics` reads them).
    public let logins = LoginOutcomes()
    /// The zone of doctors' working hours (`medrec.scheduleTimeZone`), for patients' bookings
    /// (`AppointmentBooking`): schedules hold times of day without a zone.
    public var scheduleTimeZone = AppointmentBooking.utc
    /// The database probe: while it says down, token checks answer 503 at once.
    private(set) var availability: DatabaseAvailability?

    /// The database's word on a token: the session (or client) is live, the token id not
    /// revoked, and the account still has the token's role and linked resource.
    func confirm(_ check: TokenCheck) async throws -> Bool {
        guard let check = confirmedTokens.prepared(check),
              let confirmation = try await identities.confirm(check) else { return false }
        confirmedTokens.remember(check, confirmation)
        return true
    }

    /// The same services, failing fast while `availability` reports the database down.
    public func with(availability: DatabaseAvailability) -> SecurityServices {
        var copy = self
        copy.availability = availability
        return copy
    }

    public init(
        tokens: AccessTokenService, identities: IdentityStore, hasher: PasswordHasher, audit: AuditLog, client: PostgresClient,
        logger: Logger, jwksURLAllowlist: URLAllowlist = URLAllowlist(prefixes: [])
    ) {
        self.tokens = tokens
        self.identities = identities
        self.hasher = hasher
        self.audit = audit
        self.relationships = CareRelationshipLookup(client: client, logger: logger)
        self.addressThrottle = AddressThrottle()
        self.remoteKeys = RemoteJWKS(allowlist: jwksURLAllowlist)
    }

    /// The server's services from its settings: signing keys from configuration or the data
    /// directory, bcrypt at the configured cost (never below 12).
    public static func make(
        settings: ServerSettings, client: PostgresClient, keyring: Keyring, logger: Logger
    ) async throws -> SecurityServices {
        let keys: JWTSigningKeys
        if let json = settings.auth.signingKeys {
            keys = try JWTSigningKeys(json: Array(json.utf8))
        } else {
            keys = try JWTSigningKeys.loadOrCreate(inDirectory: settings.dataDirectory)
        }
        let tokens = try await AccessTokenService(
            keys: keys, issuer: settings.auth.issuer, audience: settings.auth.audience,
            lifetime: TimeInterval(settings.auth.accessTokenSeconds))
        let audit = AuditLog(client: client, logger: logger, auditReads: settings.auth.auditReads)
        if !settings.auth.auditReads {
            logger.warning("audit: reads and searches are NOT audited (medrec.auth.auditReads=false); for benchmarks only")
        }
        guard let zone = TimeZone(identifier: settings.scheduleTimeZone) else {
            throw ScheduleTimeZoneError(name: settings.scheduleTimeZone)
        }
        var services = SecurityServices(
            tokens: tokens, identities: IdentityStore(client: client, logger: logger, keyring: keyring),
            hasher: PasswordHasher(cost: max(12, settings.auth.bcryptCost)), audit: audit, client: client, logger: logger,
            jwksURLAllowlist: settings.auth.jwksURLAllowlist)
        services.scheduleTimeZone = zone
        return services
    }
}

/// `medrec.scheduleTimeZone` names no time zone the system knows.
public struct ScheduleTimeZoneError: Error, CustomStringConvertible {
    public let name: String
    public var description: String {
        "medrec.scheduleTimeZone: \(String(name.prefix(64))) is not a known time zone (use an IANA name such as Europe/Berlin or UTC)"
    }
}
