import Foundation

/// What happened, who did it and to which data: the facts the server knows about one
/// request or login, before `AuditEventBuilder` shapes them into a BALP AuditEvent.
/// Holds ids and codes only, never names or bodies, so the audit log stays free of PHI
/// beyond the links it must keep.
public struct AuditRecord: Sendable {
    public enum Action: String, Sendable {
        case create = "C", read = "R", update = "U", delete = "D", execute = "E"
    }

    public enum Outcome: String, Sendable {
        case success = "0", minorFailure = "4", seriousFailure = "8", majorFailure = "12"
    }

    /// AuditEvent id (a UUID).
    public var id: String
    public var recorded: Date
    public var action: Action
    /// A `restful-interaction` code (read, vread, history-instance, history-type, history-system,
    /// search-type, search-system, create, update, patch, delete, batch, transaction,
    /// capabilities, operation), or an authentication event: login, login-failed, logout,
    /// token, refresh.
    public var subtype: String
    public var outcome: Outcome
    /// Short and PHI-free, e.g. "denied", "not found".
    public var outcomeDescription: String?
    /// Our user id, or the client id for a system client.
    public var agentUserID: String?
    /// patient | doctor | billing | admin | system
    public var agentRole: String?
    /// The user's FHIR resource, e.g. "Practitioner/9".
    public var agentFHIRUser: String?
    /// A system client (client credentials) rather than a person.
    public var agentIsClient: Bool
    /// Network address of the caller.
    public var clientAddress: String?
    /// A v3-ActReason code: TREAT, BTG (break-glass), HOPERAT, PATADMIN...
    public var purposeOfUse: String?
    /// The free-text reason given with a break-glass request.
    public var breakGlassReason: String?
    public var entityType: String?
    public var entityID: String?
    public var entityVersion: Int?
    /// Patients whose data was touched.
    public var patientIDs: [String]
    /// The search query string, for searches.
    public var query: String?
    /// The request the event was recorded for (`X-Request-Id`, `MedrecRequestID`), linking the
    /// audit log to the proxy's and the server's log lines; nil for work no request caused.
    public var requestID: String?

    public init(
        id: String = RandomUUID.v7(),
        recorded: Date = Date(),
        action: Action,
        subtype: String,
        outcome: Outcome = .success,
        outcomeDescription: String? = nil,
        agentUserID: String? = nil,
        agentRole: String? = nil,
        agentFHIRUser: String? = nil,
        agentIsClient: Bool = false,
        clientAddress: String? = nil,
        purposeOfUse: String? = nil,
        breakGlassReason: String? = nil,
        entityType: String? = nil,
        entityID: String? = nil,
        entityVersion: Int? = nil,
        patientIDs: [String] = [],
        query: String? = nil,
        requestID: String? = MedrecRequestID.current
    ) {
        self.id = id
        self.recorded = recorded
        self.action = action
        self.subtype = subtype
        self.outcome = outcome
        self.outcomeDescription = outcomeDescription
        self.agentUserID = agentUserID
        self.agentRole = agentRole
        self.agentFHIRUser = agentFHIRUser
        self.agentIsClient = agentIsClient
        self.clientAddress = clientAddress
        self.purposeOfUse = purposeOfUse
        self.breakGlassReason = breakGlassReason
        self.entityType = entityType
        self.entityID = entityID
        self.entityVersion = entityVersion
        self.patientIDs = patientIDs
        self.query = query
        self.requestID = requestID
    }
}
