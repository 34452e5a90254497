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

    /// A checked registration (the face validated every field and reports all problems at once).
    public struct Registration: Sendable {
        public enum Role: String, Sendable { case patient, doctor }
        public var email: String
        public var password: String
        public var role: Role
        public var firstName: String
        public var lastName: String
        public var birthDate: String?
        public var gender: String?
        public var phone: String?
        /// A doctor's specialization (on the Practitioner as a qualification, as `DoctorDTO` maps it).
        public var specialization: String? = nil
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

    /// The person's resource: name, the account's email (and phone) as telecom, gender, birth date.
    static func resource(of registration: Registration, type: String) -> JSONValue {
        var resource: JSONObject = [
            "resourceType": .string(type),
            "name": .array([.object(["family": .string(registration.lastName), "given": .array([.string(registration.firstName)])])]),
        ]
        var telecom: [JSONValue] = [.object(["system": .string("email"), "value": .string(AccountEmail.normalize(registration.email))])]
        if let phone = registration.phone { telecom.append(.object(["system": .string("phone"), "value": .string(phone)])) }
        resource["telecom"] = .array(telecom)
        if let gender = registration.gender { resource["gender"] = .string(gender) }
        if let birthDate = registration.birthDate { resource["birthDate"] = .string(birthDate) }
        if type == DoctorDTO.resourceType, let specialization = registration.specialization {
            // The platform's own mapping writes it, so `/doctors` reads it back as `specialization`.
            // Merging maps every field, so start from what the resource already says.
            var doctor = DoctorDTO(fhir: .object(resource))
            doctor.specialization = specialization
            let mapped = doctor.fhir(mergingInto: .object(resource), context: MappingContext(authorPractitionerID: nil, now: Date()))
            if let object = mapped.objectValue { resource = object }
        }
        return .object(resource)
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
