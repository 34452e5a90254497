import FHIRModels
import Foundation
import Mapping

/// The platform models' operations (`PatientDTO`, `AppointmentDTO`, …) over the FHIR store, for
/// every face that speaks them: the platform API and the web pages. A model goes in; what is
/// checked and written is the service's: the 403 before any lookup for a caller who could never
/// make the write, the reference checks (a `patientId` that names no record), the mapping
/// context (time, author, what a new bill takes from the records it names), then
/// `RecordService`, which decides, audits, validates, seals, indexes and keeps history. Knows
/// nothing of HTTP.
public struct PlatformRecords<Model: PlatformModel>: Sendable {
    let records: RecordService
    let searches: SearchService
    /// Reference checks look records up without auditing: they tell only whether an id exists.
    let store: any ResourceStore
    /// Set for appointments: cancelling keeps the record with its status changed.
    var cancelling: (@Sendable (Model) -> Model)?

    init(records: RecordService, searches: SearchService, store: any ResourceStore, cancelling: (@Sendable (Model) -> Model)? = nil) {
        self.records = records
        self.searches = searches
        self.store = store
        self.cancelling = cancelling
    }

    /// `patientId`, `doctorId` or `appointmentId` values that name no current record (422 on
    /// the platform face, a message next to the field on a page).
    public struct UnknownReferences: PlatformRecordsUnknownReferences {
        public let issues: [FieldIssue]
        public var referenceIssues: [FieldIssue] { issues }
    }

    /// A stored record as its model, with its id and version.
    public struct Item: Sendable {
        public let model: Model
        public let stored: StoredResource
    }

    private var type: String { Model.resourceType }

    public func read(id: String, as caller: Caller) async throws -> Item {
        try Self.item(try await records.read(type: type, id: id, as: caller))
    }

    public func create(_ model: Model, as caller: Caller) async throws -> Item {
        let caller = try await records.confirmed(caller)
        try await refuseIfNeverWritable(model, .create, as: caller)
        let mapping = mappingContext(caller, referenced: try await checkReferences(of: model))
        let resource = Self.resourceValue(model.fhir(mergingInto: nil, context: mapping))
        return try Self.item(try await records.create(type: type, resource: resource, as: caller).stored)
    }

    /// Merges the model into the locked current version: elements the model does not map are kept.
    public func update(id: String, _ model: Model, ifMatch: Int?, as caller: Caller) async throws -> Item {
        let caller = try await records.confirmed(caller)
        try await refuseIfNeverWritable(model, .update, id: id, as: caller)
        let mapping = mappingContext(caller, referenced: try await checkReferences(of: model))
        let stored = try await records.update(type: type, id: id, ifMatch: ifMatch, as: caller) { old in
            Self.resourceValue(model.fhir(mergingInto: old, context: mapping))
        }
        return try Self.item(stored)
    }

    /// Whether this collection's delete cancels (appointments) rather than deletes.
    public var cancels: Bool { cancelling != nil }

    /// Cancels (appointments): the record is updated and kept. Nil when the model does not cancel.
    public func cancel(id: String, ifMatch: Int? = nil, as caller: Caller) async throws -> Item? {
        guard let cancelling else { return nil }
        let mapping = mappingContext(caller)
        let stored = try await records.update(type: type, id: id, ifMatch: ifMatch, as: caller) { old in
            var current = Model(fhir: old)
            current.id = id
            return Self.resourceValue(cancelling(current).fhir(mergingInto: old, context: mapping))
        }
        return try Self.item(stored)
    }

    /// A FHIR delete (history keeps every version); false when there was no such record.
    public func delete(id: String, as caller: Caller) async throws -> Bool {
        try await records.delete(type: type, id: id, as: caller) != nil
    }

    /// One page of a list: the search's items (already the filters' FHIR form), keyset paging.
    /// `queryText` is what the audit log keeps as the query.
    func list(
        _ items: [(key: String, value: String)], conditions: [SearchCondition] = [], queryText: String, maxCount: Int,
        as caller: Caller
    ) async throws -> (items: [Item], next: String?) {
        var parser = SearchQueryParser(baseURL: "", strict: true, maxCount: maxCount)
        parser.sealedContact = (store as? PostgresResourceStore)?.sealedContactSearch
        var query = try parser.parse(types: [type], items: items)
        query.targets[0].conditions += conditions
        let result = try await searches.search(
            SearchService.Request(query: query, items: items, auditType: type, queryText: queryText), as: caller)
        let found = result.matches.map { stored, resource in
            var model = Model(fhir: resource)
            model.id = stored.id
            return Item(model: model, stored: stored)
        }
        return (found, result.next)
    }

    // MARK: - Parts

    /// A caller who may not make this kind of write on this type at all gets the audited 403
    /// before the references are looked up, so an unknown reference never tells them whether a
    /// record exists.
    private func refuseIfNeverWritable(_ model: Model, _ permission: SMARTPermission, id: String? = nil, as caller: Caller) async throws {
        guard !model.references.isEmpty else { return }
        let provisional = Self.resourceValue(model.fhir(mergingInto: nil, context: mappingContext(caller)))
        try await records.refuseIfNeverWritable(permission, type: type, id: id, provisional: provisional, as: caller)
    }

    /// The records the model points at, by field; `UnknownReferences` for those that name none.
    private func checkReferences(of model: Model) async throws -> [String: JSONValue] {
        var found: [String: JSONValue] = [:]
        var issues: [FieldIssue] = []
        for reference in model.references {
            guard FHIRRequest.isValidID(reference.id) else {
                issues.append(.init(field: reference.field, issue: "is not a valid id"))
                continue
            }
            do {
                found[reference.field] = try await store.read(type: reference.type, id: reference.id).resource()
            } catch let error as StoreError {
                switch error.code {
                case .notFound, .gone:
                    issues.append(.init(field: reference.field, issue: "names no existing \(PlatformRoutes.noun(of: reference.type))"))
                default:
                    throw error
                }
            }
        }
        if !issues.isEmpty { throw UnknownReferences(issues: issues) }
        return found
    }

    /// The write's time and author, and what a new bill names from the records it points at:
    /// the appointment's doctor as provider, the patient's insurer as coverage.
    private func mappingContext(_ caller: Caller, referenced: [String: JSONValue] = [:]) -> MappingContext {
        var context = MappingContext(authorPractitionerID: caller.principal.practitionerID, now: Date())
        if let appointment = referenced["appointmentId"] {
            context.billingProviderPractitionerID = AppointmentDTO(fhir: appointment).doctorID
        }
        if let patient = referenced["patientId"], patient["resourceType"]?.stringValue == "Patient" {
            context.billingInsuranceProvider = PatientDTO(fhir: patient).insurance?.provider
        }
        return context
    }

    /// The mapped resource as an object with its `resourceType`.
    private static func resourceValue(_ value: JSONValue) -> JSONValue {
        var object = value.objectValue ?? JSONObject()
        if object["resourceType"] == nil { object["resourceType"] = .string(Model.resourceType) }
        return .object(object)
    }

    private static func item(_ stored: StoredResource) throws -> Item {
        guard let resource = try stored.resource() else { throw StoreError(.notFound, "\(stored.type)/\(stored.id) is not known") }
        var model = Model(fhir: resource)
        model.id = stored.id
        return Item(model: model, stored: stored)
    }
}

/// Any model's `UnknownReferences`, for the faces' error mapping.
public protocol PlatformRecordsUnknownReferences: Error, Sendable {
    var referenceIssues: [FieldIssue] { get }
}

/// The six collections' services, built once per server and shared by the faces.
public struct PlatformServices: Sendable {
    public let patients: PlatformRecords<PatientDTO>
    public let doctors: PlatformRecords<DoctorDTO>
    public let appointments: PlatformRecords<AppointmentDTO>
    public let medicalRecords: PlatformRecords<MedicalRecordDTO>
    public let prescriptions: PlatformRecords<PrescriptionDTO>
    public let billings: PlatformRecords<BillingDTO>
    public let records: RecordService
    public let searches: SearchService

    public init(store: any ResourceStore, security: SecurityServices, maxIncluded: Int) {
        let records = RecordService(store: store, security: security)
        let searches = SearchService(store: store, security: security, maxIncluded: maxIncluded)
        self.records = records
        self.searches = searches
        patients = PlatformRecords(records: records, searches: searches, store: store)
        doctors = PlatformRecords(records: records, searches: searches, store: store)
        appointments = PlatformRecords(records: records, searches: searches, store: store) { appointment in
            var canceled = appointment
            canceled.status = .canceled
            return canceled
        }
        medicalRecords = PlatformRecords(records: records, searches: searches, store: store)
        prescriptions = PlatformRecords(records: records, searches: searches, store: store)
        billings = PlatformRecords(records: records, searches: searches, store: store)
    }
}
