import FHIRModels
import Foundation

/// One model of the platform API (`/patients`, `/doctors`, …): its JSON face and its pure,
/// two-way mapping to the FHIR resource that stores it. Both faces serve the same record, so
/// a platform write merges over the stored FHIR resource instead of replacing it.
public protocol PlatformModel: Sendable, Equatable {
    /// The FHIR resource type that stores this model (`Patient`, `Practitioner`, …).
    static var resourceType: String { get }
    /// The path segment of the platform routes (`patients`, `medical-records`, …).
    static var collection: String { get }

    /// The FHIR id; server-set, never taken from a request body.
    var id: String? { get set }

    /// Decodes a request body strictly: unknown members are refused, read-only members
    /// (`id`, `createdAt`, `updatedAt`) are ignored, and every bad field is reported at once.
    init(body: JSONObject) throws(PlatformValidationError)

    /// The response body (camelCase JSON; absent values are left out).
    var json: JSONValue { get }

    /// Reads a FHIR resource of `resourceType`. Total: any valid resource maps, whatever system
    /// wrote it; what the resource lacks stays absent, nothing is invented.
    init(fhir: JSONValue)

    /// The FHIR resource for this model, merged over `existing` (nil on create): elements the
    /// model does not carry, and mapped elements whose platform value did not change, are kept
    /// as they were. Never sets `id` or `meta`.
    func fhir(mergingInto existing: JSONValue?, context: MappingContext) -> JSONValue

    /// The resources this model points at (`patientId`, `doctorId`, `appointmentId`), so the
    /// server can answer 422 for one that does not exist.
    var references: [PlatformReference] { get }
}

/// What a mapping may need from the request, passed in so that mapping stays pure.
public struct MappingContext: Sendable {
    /// The doctor making the write (a new MedicalRecord's author).
    public var authorPractitionerID: String?
    /// The time of the write (a new MedicalRecord's `createdAt`).
    public var now: Date
    /// The Practitioner id of the billed appointment's doctor, when the server knows it: a new
    /// Claim names them as provider (else the display `medical-records`).
    public var billingProviderPractitionerID: String?
    /// The billed patient's insurance provider, when known: a new Claim's `insurance.coverage`
    /// display (else `self-pay`).
    public var billingInsuranceProvider: String?

    public init(
        authorPractitionerID: String? = nil,
        now: Date = Date(),
        billingProviderPractitionerID: String? = nil,
        billingInsuranceProvider: String? = nil
    ) {
        self.authorPractitionerID = authorPractitionerID
        self.now = now
        self.billingProviderPractitionerID = billingProviderPractitionerID
        self.billingInsuranceProvider = billingInsuranceProvider
    }
}

/// A reference from a platform model to another record, by field.
public struct PlatformReference: Sendable, Equatable {
    /// The platform field (`patientId`).
    public let field: String
    /// The FHIR type it points at (`Patient`).
    public let type: String
    public let id: String

    public init(field: String, type: String, id: String) {
        self.field = field
        self.type = type
        self.id = id
    }
}
