import FHIRModels
import Foundation
import Mapping

/// Self-registration, once, for every face (the platform's `POST /auth/register` today, the
/// web pages next): the account and its Patient or Practitioner land together with their
/// AuditEvent, or not at all. A patient is active at once; a doctor waits for an administrator.
/// No input can make an admin. Knows nothing of HTTP.
public struct AccountService: Sendable {
    let store: any ResourceStore
    let security: SecurityServices

    public init(store: any ResourceStore, security: SecurityServices) {
        self.store = store
        self.security = security
    }

    /// A checked registration (the face validated every field and reports all problems at once):
    /// what the person's record needs from the start. A patient's Patient has their date of birth
    /// (required by the face), gender, phone and address; a doctor's Practitioner their
    /// specialization (required by the face) and phone.
    public struct Registration: Sendable {
        public enum Role: String, Sendable { case patient, doctor }
        public var email: String
        public var password: String
        public var role: Role
        public var firstName: String
        public var lastName: String
        /// `YYYY-MM-DD`, patients only (the platform's `PatientDTO.dateOfBirth`).
        public var dateOfBirth: String?
        /// Patients only.
        public var gender: Gender?
        public var phone: String?
        /// Patients only.
        public var address: PostalAddress?
        /// Doctors only (the platform's `DoctorDTO.specialization`).
        public var specialization: String?

        public init(
            email: String, password: String, role: Role, firstName: String, lastName: String, dateOfBirth: String? = nil,
            gender: Gender? = nil, phone: String? = nil, address: PostalAddress? = nil, specialization: String? = nil
        ) {
            self.email = email
            self.password = password
            self.role = role
            self.firstName = firstName
            self.lastName = lastName
            self.dateOfBirth = dateOfBirth
            self.gender = gender
            self.phone = phone
            self.address = address
            self.specialization = specialization
        }
    }

    public struct Registered: Sendable {
        public let userID: String
        public let email: String
        public let role: Principal.Role
        public let status: UserAccount.Status
        /// `Patient/<id>` or `Practitioner/<id>`.
        public let fhirUser: String
    }

    /// An account with this email exists already.
    public struct EmailTaken: Error {}

    public func register(_ registration: Registration, clientAddress: String?) async throws -> Registered {
        let hash = try await security.hasher.hash(registration.password)
        let role: Principal.Role = registration.role == .patient ? .patient : .doctor
        let userID = UUID().uuidString.lowercased()
        let resourceID = UUID().uuidString.lowercased()
        let resourceType = role == .patient ? "Patient" : "Practitioner"
        let resource = Self.resource(of: registration, type: resourceType)
        let status: UserAccount.Status = role == .patient ? .active : .pending
        let fhirUser = ResourceReference.literal(type: resourceType, id: resourceID)
        let record = Self.auditRecord(userID: userID, role: role, type: resourceType, id: resourceID, clientAddress: clientAddress)
        let identities = security.identities
        try await store.transaction(author: nil) { transaction in
            guard let postgres = transaction as? PostgresResourceTransaction else {
                throw StoreError(.unavailable, "registration needs the PostgreSQL store")
            }
            // The account and its resource land together or not at all.
            _ = try await transaction.create(type: resourceType, resource: resource, id: resourceID)
            guard try await identities.insertUser(
                id: userID, email: registration.email, passwordHash: hash, role: role, status: status, fhirUser: fhirUser,
                on: postgres.connection) else { throw EmailTaken() }
            try await transaction.appendAudit([record])
        }
        return Registered(
            userID: userID, email: AccountEmail.normalize(registration.email), role: role, status: status, fhirUser: fhirUser)
    }

    /// The person's resource, written by the platform's own mapping (`PatientDTO`, `DoctorDTO`),
    /// so a registered person's record is exactly what `/patients` or `/doctors` would have made
    /// of the same fields: name, the account's email and the phone as telecom, and for a patient
    /// date of birth, gender and address, for a doctor the specialization.
    static func resource(of registration: Registration, type: String) -> JSONValue {
        let contact = ContactDetails(phone: registration.phone, email: AccountEmail.normalize(registration.email))
        let mapped: JSONValue
        switch registration.role {
        case .patient:
            mapped = PatientDTO(
                firstName: registration.firstName, lastName: registration.lastName, dateOfBirth: registration.dateOfBirth,
                gender: registration.gender, address: registration.address, contact: contact
            ).fhir(mergingInto: nil, context: MappingContext())
        case .doctor:
            mapped = DoctorDTO(
                firstName: registration.firstName, lastName: registration.lastName, specialization: registration.specialization,
                contact: contact
            ).fhir(mergingInto: nil, context: MappingContext())
        }
        var object = mapped.objectValue ?? JSONObject()
        object["resourceType"] = .string(type)
        return .object(object)
    }

    /// The creation of the person's resource, by themselves, for patient administration.
    static func auditRecord(userID: String, role: Principal.Role, type: String, id: String, clientAddress: String?) -> AuditRecord {
        var audit = AuditRecord(.create)
        audit.agentUserID = userID
        audit.agentRole = role.rawValue
        audit.agentFHIRUser = ResourceReference.literal(type: type, id: id)
        audit.clientAddress = clientAddress
        audit.purposeOfUse = "PATADMIN"
        audit.entityType = type
        audit.entityID = id
        audit.entityVersion = 1
        audit.outcomeDescription = "self-registration"
        if role == .patient { audit.patientIDs = [id] }
        return audit
    }
}
