import FHIRModels
import Foundation

/// Deny by default: effective access is the role's rules ∩ the token's SMART scopes ∩ the
/// relationship to the patients whose compartment the resource is in. One value per request.
///
/// - patient: reads resources in their own compartment, and the doctor directory
///   (Practitioner, PractitionerRole) in its directory view (no private contact data, marked
///   SUBSETTED: `DirectoryView`). Writes their own Patient (not `meta.security`, `link` or
///   `generalPractitioner`) and their own appointments (`PatientAppointments`: request or book a
///   planned Encounter with themselves as subject, cancel one; a booked time must be free in the
///   doctor's schedule, checked by `AppointmentBooking`). Deletes nothing.
/// - doctor: everything outside patient compartments; inside, the patients they care for
///   (a participant of a live Encounter, general practitioner, or author of something in the
///   record). Other patients need `X-Break-Glass: <reason>`, which holds for that request only.
///   A create that itself states the care relationship (an Encounter listing the doctor, a new
///   Patient) is allowed. Of the directory, only their own Practitioner is theirs to write.
/// - billing: Claim, Coverage, Account, ExplanationOfBenefit, Invoice; Patient read-only; the
///   doctor directory read-only, in its directory view.
/// - admin: the doctor directory (Practitioner, PractitionerRole: read, search, create, update,
///   delete; the full record); AuditEvents (read); nothing clinical. Users are managed under
///   `/admin`.
/// - system clients: exactly their `system/` scopes, all patients.
/// AuditEvents are never written through the API.
public struct AccessControl: Sendable {
    public let principal: Principal
    public let breakGlassReason: String?
    let relationships: CareRelationshipLookup

    public static let billingTypes: Set<String> = ["Claim", "Coverage", "Account", "ExplanationOfBenefit", "Invoice"]
    /// The doctor directory: who works here, what they do, when. Outside every patient
    /// compartment and not clinical data, so every signed-in role may read it and admins keep it.
    public static let directoryTypes: Set<String> = ["Practitioner", "PractitionerRole"]
    /// Patient elements a patient may not change on their own record.
    static let patientProtectedElements = ["link", "generalPractitioner"]

    init(principal: Principal, breakGlassReason: String?, relationships: CareRelationshipLookup) {
        self.principal = principal
        // Break-glass is a doctor's emergency access; from anyone else it means nothing.
        self.breakGlassReason = principal.role == .doctor ? breakGlassReason : nil
        self.relationships = relationships
    }

    /// The scope half alone: may this token do `permission` on `type` at all?
    public func scopeAllows(_ permission: SMARTPermission, on type: String) -> Bool {
        principal.scopes.grants(permission, on: type, in: principal.scopeContexts)
    }

    /// May the principal read (`.read`) or find by search (`.search`) this resource?
    /// `caredFor`: the patients the doctor is known to care for among this resource's, when the
    /// read fetched them already (`ResourceStore.read(caredForBy:)`).
    public func decideRead(
        type: String, id: String, resource: JSONValue, permission: SMARTPermission, caredFor: Set<String>? = nil
    ) async throws -> AccessDecision {
        guard scopeAllows(permission, on: type) else { return .deny("scope") }
        if type == "AuditEvent" { return auditEventRead(resource) }
        return try await decideRead(
            type: type, patients: patients(type: type, id: id, resource: resource), permission: permission, caredFor: caredFor)
    }

    /// The same decision when the resource's compartment is already known (from the index
    /// written with it), without parsing the resource. Not for AuditEvents.
    /// `caredForIsComplete`: `caredFor` is every patient of `patients` the doctor cares for (a
    /// search looked a whole page up in one query), so the others need no second look.
    public func decideRead(
        type: String, patients: Set<String>, permission: SMARTPermission, caredFor: Set<String>? = nil,
        caredForIsComplete: Bool = false
    ) async throws -> AccessDecision {
        guard scopeAllows(permission, on: type) else { return .deny("scope") }
        if type == "AuditEvent" { return .deny("audit events are read through the audit log") }
        switch principal.role {
        case .system: return .allow
        case .admin: return Self.directoryTypes.contains(type) ? .allow : .deny("role")
        case .billing:
            return Self.billingTypes.contains(type) || type == "Patient" || Self.directoryTypes.contains(type) ? .allow : .deny("role")
        case .patient:
            guard let me = principal.patientID else { return .deny("no linked patient") }
            if Self.directoryTypes.contains(type), patients.isEmpty { return .allow }
            return patients.contains(me) ? .allow : .deny("compartment")
        case .doctor:
            return try await doctorDecision(patients: patients, establishedByWrite: caredFor ?? [], complete: caredForIsComplete)
        }
    }

    /// May the principal create (`old` nil), update or patch (both), or delete (`new` nil)?
    /// `patients`: the compartments of old and new content, when the caller computed them.
    public func decideWrite(
        type: String, id: String, permission: SMARTPermission, old: JSONValue?, new: JSONValue?, patients known: Set<String>? = nil
    ) async throws -> AccessDecision {
        guard scopeAllows(permission, on: type) else { return .deny("scope") }
        if type == "AuditEvent" { return .deny("the audit log is append-only") }
        switch principal.role {
        case .system: return .allow
        case .admin: return Self.directoryTypes.contains(type) ? .allow : .deny("role")
        case .billing: return Self.billingTypes.contains(type) ? .allow : .deny("role")
        case .patient:
            guard let me = principal.patientID else { return .deny("no linked patient") }
            if type == "Encounter" {
                var compartment = known ?? []
                if known == nil {
                    if let old { compartment.formUnion(patients(type: type, id: id, resource: old)) }
                    if let new { compartment.formUnion(patients(type: type, id: id, resource: new)) }
                }
                switch (old, new, permission) {
                case (nil, let new?, .create): return PatientAppointments.decideCreate(new, patient: me, compartment: compartment)
                case (let old?, let new?, .update):
                    return PatientAppointments.decideUpdate(old: old, new: new, patient: me, compartment: compartment)
                default: return .deny("role")
                }
            }
            guard type == "Patient", id == me, permission == .update, let old, let new else { return .deny("role") }
            if old["meta"]?["security"].isEquivalentOrAbsent(to: new["meta"]?["security"]) == false { return .deny("meta.security") }
            for element in Self.patientProtectedElements where old[element].isEquivalentOrAbsent(to: new[element]) == false {
                return .deny(element)
            }
            return .allow
        case .doctor:
            guard let me = principal.practitionerID else { return .deny("no linked practitioner") }
            var patients = known ?? []
            if known == nil {
                if let old { patients.formUnion(self.patients(type: type, id: id, resource: old)) }
                if let new { patients.formUnion(self.patients(type: type, id: id, resource: new)) }
            }
            if patients.isEmpty {
                // Outside every compartment: directory and definitional resources. A doctor's
                // own Practitioner is theirs to keep; others' are not.
                if type == "Practitioner" && id != me { return .deny("another practitioner") }
                return .allow
            }
            var established = Set<String>()
            if old == nil, let new {
                // A new Patient, or a new resource that names the doctor as caring for the patient.
                if type == "Patient" { established.insert(id) }
                for relationship in CareRelationship.extract(from: new) where relationship.practitionerID == me {
                    established.insert(relationship.patientID)
                }
            }
            return try await doctorDecision(patients: patients, establishedByWrite: established)
        }
    }

    /// May the principal search the hospital's patient index (`PatientIndexService`): find any
    /// patient by name, birth date or identifier, seeing only who they are (never their record),
    /// so that a doctor can then open a chart with break-glass. Doctors only.
    public var mayUsePatientIndex: Bool {
        principal.role == .doctor && principal.practitionerID != nil && scopeAllows(.search, on: "Patient")
    }

    /// Whether the principal could make any write of this kind on `type` at all, before looking
    /// at which record (role and scopes only). False means every such write is denied; true
    /// means `decideWrite` decides.
    public func mayEverWrite(_ permission: SMARTPermission, on type: String) -> Bool {
        guard scopeAllows(permission, on: type), type != "AuditEvent" else { return false }
        switch principal.role {
        case .system, .doctor: return true
        case .admin: return Self.directoryTypes.contains(type)
        case .billing: return Self.billingTypes.contains(type)
        case .patient:
            return (type == "Patient" && permission == .update) || (type == "Encounter" && (permission == .create || permission == .update))
        }
    }

    private func doctorDecision(patients: Set<String>, establishedByWrite: Set<String>, complete: Bool = false) async throws -> AccessDecision {
        guard let me = principal.practitionerID else { return .deny("no linked practitioner") }
        let unrelated = patients.subtracting(establishedByWrite)
        if unrelated.isEmpty { return .allow }
        if !complete {
            let related = try await relationships.patients(of: me, among: unrelated)
            if related.count == unrelated.count { return .allow }
        }
        return breakGlassReason != nil ? .allowByBreakGlass : .deny("no care relationship")
    }

    /// Whether the caller sees `type` in its directory view (`DirectoryView`): patients and
    /// billing staff read the doctor directory without private contact data; doctors, admins and
    /// system clients read the whole record.
    public func seesDirectoryView(of type: String) -> Bool {
        Self.directoryTypes.contains(type) && (principal.role == .patient || principal.role == .billing)
    }

    /// Admins and system clients (with scope) read the audit log; a patient reads the events
    /// about their own record.
    private func auditEventRead(_ resource: JSONValue) -> AccessDecision {
        switch principal.role {
        case .admin, .system: return .allow
        case .patient:
            guard let me = principal.patientID else { return .deny("no linked patient") }
            let entities = resource["entity"]?.arrayValue ?? []
            let mine = entities.contains { $0["what"]?["reference"]?.stringValue == "Patient/\(me)" }
            return mine ? .allow : .deny("compartment")
        case .doctor, .billing: return .deny("role")
        }
    }

    func patients(type: String, id: String, resource: JSONValue) -> Set<String> {
        var result = PatientCompartment.patientIDs(of: resource)
        if type == "Patient" { result.insert(id) }
        return result
    }
}

extension Optional where Wrapped == JSONValue {
    /// Both absent, or equivalent JSON.
    func isEquivalentOrAbsent(to other: JSONValue?) -> Bool {
        switch (self, other) {
        case (nil, nil): return true
        case (let a?, let b?): return a.isEquivalent(to: b)
        default: return false
        }
    }
}
