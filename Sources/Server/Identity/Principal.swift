import Foundation

/// Who is calling, as established from a verified access token and the account's current
/// state in the database (not from the token's claims alone: a role change or a disabled
/// account takes effect at once).
public struct Principal: Sendable {
    public enum Role: String, Sendable, CaseIterable {
        case admin, doctor, patient, billing
        /// A client-credentials client (partner system, bulk job).
        case system
    }

    /// The user id, or the client id for a system client.
    public let subject: String
    public let role: Role
    /// The linked resource: ("Patient", id) for patients, ("Practitioner", id) for doctors.
    public let fhirUser: (type: String, id: String)?
    public let scopes: ScopeSet
    /// The access token's id and expiry (logout revokes it until then).
    public let tokenID: String
    public let tokenExpiry: Date
    /// The refresh family (users only).
    public let sessionID: String?

    public init(
        subject: String, role: Role, fhirUser: (type: String, id: String)?, scopes: ScopeSet, tokenID: String,
        tokenExpiry: Date, sessionID: String?
    ) {
        self.subject = subject
        self.role = role
        self.fhirUser = fhirUser
        self.scopes = scopes
        self.tokenID = tokenID
        self.tokenExpiry = tokenExpiry
        self.sessionID = sessionID
    }

    /// The patient id of a patient user.
    public var patientID: String? {
        guard role == .patient, let fhirUser, fhirUser.type == "Patient" else { return nil }
        return fhirUser.id
    }

    /// The practitioner id of a doctor.
    public var practitionerID: String? {
        guard role == .doctor, let fhirUser, fhirUser.type == "Practitioner" else { return nil }
        return fhirUser.id
    }

    public var fhirUserReference: String? { fhirUser.map { "\($0.type)/\($0.id)" } }

    /// The SMART scope contexts this principal's tokens may use.
    public var scopeContexts: Set<SMARTScope.Context> {
        switch role {
        case .system: [.system]
        case .patient: [.patient, .user]
        case .doctor, .billing, .admin: [.user]
        }
    }
}
