import FHIRModels
import Foundation
import Hummingbird

/// One request's access control and audit on the FHIR face: decides with `AccessControl`,
/// records every access and denial as an AuditEvent, and turns denials into the answers the
/// security model gives (a denied read is the same 404 as a missing resource; a denied write
/// is 403).
struct FHIRGuard: Sendable {
    let access: AccessControl
    let audit: AuditLog
    let clientAddress: String?

    var principal: Principal { access.principal }

    /// The guard of one request on either face, once the authentication middleware has run. A
    /// token check the middleware deferred runs here, unless the caller carries it in its own
    /// statement (`deferTokenCheck`: the reads).
    static func make(
        _ request: Request, _ context: MedrecRequestContext, security: SecurityServices, deferTokenCheck: Bool = false
    ) async throws -> FHIRGuard {
        guard let principal = context.principal else {
            throw BearerAuthenticator.unauthorized(request.uri.path, error: nil, "a bearer access token is required")
        }
        if let check = context.pendingTokenCheck, !deferTokenCheck {
            guard try await security.confirm(check) else { throw BearerAuthenticator.invalidToken(request.uri.path) }
        }
        let reason = request.headers[.breakGlass].map { String($0.trimmingCharacters(in: .whitespaces).prefix(200)) }
        return FHIRGuard(
            access: AccessControl(
                principal: principal, breakGlassReason: reason.flatMap { $0.isEmpty ? nil : $0 },
                relationships: security.relationships),
            audit: security.audit, clientAddress: context.clientAddress)
    }

    /// The practitioner whose creates in this request become care relationships: a doctor's,
    /// except under break-glass (emergency access must not turn into standing access).
    var author: String? {
        access.breakGlassReason == nil ? principal.practitionerID : nil
    }

    /// The error a denial becomes after it has been audited.
    struct Denied: Error {
        let error: FHIRHTTPError
        let record: AuditRecord
    }

    /// The audit record of one access, filled from the principal and the request.
    func record(
        _ subtype: String, action: AuditRecord.Action, type: String? = nil, id: String? = nil, version: Int? = nil,
        patients: Set<String> = [], decision: AccessDecision = .allow, outcome: AuditRecord.Outcome? = nil,
        description: String? = nil, query: String? = nil
    ) -> AuditRecord {
        var record = AuditRecord(action: action, subtype: subtype)
        record.agentUserID = principal.subject
        record.agentRole = principal.role.rawValue
        record.agentFHIRUser = principal.fhirUserReference
        record.agentIsClient = principal.role == .system
        record.clientAddress = clientAddress
        record.entityType = type
        record.entityID = id
        record.entityVersion = version
        record.patientIDs = patients.sorted()
        record.query = query
        switch decision {
        case .allow:
            record.outcome = outcome ?? .success
            record.outcomeDescription = description
            record.purposeOfUse = Self.purpose(of: principal.role)
        case .allowByBreakGlass:
            record.outcome = outcome ?? .success
            record.outcomeDescription = description ?? "break-glass"
            record.purposeOfUse = "BTG"
            record.breakGlassReason = access.breakGlassReason
        case .deny(let reason):
            record.outcome = .minorFailure
            record.outcomeDescription = "denied: \(reason)"
            record.purposeOfUse = access.breakGlassReason != nil ? "BTG" : Self.purpose(of: principal.role)
            record.breakGlassReason = access.breakGlassReason
        }
        return record
    }

    /// HL7 v3 ActReason purpose of use by role: treatment, payment, operations.
    static func purpose(of role: Principal.Role) -> String {
        switch role {
        case .doctor, .patient: "TREAT"
        case .billing: "HPAYMT"
        case .admin, .system: "HOPERAT"
        }
    }

    // MARK: - Reads

    /// The audit record of reading a stored version when the principal may read it; otherwise
    /// audits the denial and throws the 404 a missing resource gives. A current version read
    /// with its compartment (`compartmentPatients`) is decided without parsing it.
    func readable(_ stored: StoredResource, subtype: String, permission: SMARTPermission = .read) async throws -> AuditRecord {
        let patients: Set<String>
        if let known = stored.compartmentPatients, stored.type != "AuditEvent" {
            patients = known
        } else {
            guard let resource = try stored.resource() else {
                throw FHIRHTTPError.notFound("\(stored.type)/\(stored.id) is not known")
            }
            patients = access.patients(type: stored.type, id: stored.id, resource: resource)
        }
        let decision = try await access.decideRead(
            type: stored.type, patients: patients, permission: permission, caredFor: stored.caredForPatients)
        let record = record(
            subtype, action: .read, type: stored.type, id: stored.id, version: stored.versionID, patients: patients,
            decision: decision)
        guard decision.isAllowed else {
            try await audit.record(record)
            throw FHIRHTTPError.notFound("\(stored.type)/\(stored.id) is not known")
        }
        return record
    }

    /// Audits a read that failed before any access decision (unknown id, deleted, bad request).
    func auditFailure(_ subtype: String, action: AuditRecord.Action, type: String?, id: String?, error: any Error) async {
        let mapped = FHIRHTTPError.from(error)
        let status = (mapped as? FHIRHTTPError)?.status.code ?? 500
        let failure = record(
            subtype, action: action, type: type, id: id, outcome: status >= 500 ? .seriousFailure : .minorFailure,
            description: "HTTP \(status)")
        try? await audit.record(failure)
    }

    // MARK: - Searches and histories

    /// What a search or history may show of `items`, each with its parsed resource (nil for a
    /// deletion, shown only when `showDeletions`), and its audit records: one for what was shown,
    /// and a denial naming the withheld results' patients when any were left out.
    func visible(
        _ items: [StoredResource], subtype: String, type: String?, id: String? = nil, permission: SMARTPermission,
        showDeletions: Bool = false, query: String?
    ) async throws -> (shown: [(stored: StoredResource, resource: JSONValue?)], records: [AuditRecord]) {
        var shown: [(stored: StoredResource, resource: JSONValue?)] = []
        var returnedPatients = Set<String>()
        var withheldPatients = Set<String>()
        var withheld = 0
        var denial: AccessDecision = .allow
        var breakGlassUsed = false
        for stored in items {
            guard let resource = try stored.resource() else {
                if showDeletions { shown.append((stored, nil)) }
                continue
            }
            let decision = try await access.decideRead(type: stored.type, id: stored.id, resource: resource, permission: permission)
            let patients = access.patients(type: stored.type, id: stored.id, resource: resource)
            if decision.isAllowed {
                shown.append((stored, resource))
                returnedPatients.formUnion(patients)
                if decision == .allowByBreakGlass { breakGlassUsed = true }
            } else {
                withheld += 1
                withheldPatients.formUnion(patients)
                denial = decision
            }
        }
        var records = [record(
            subtype, action: .read, type: type, id: id, patients: returnedPatients,
            decision: breakGlassUsed ? .allowByBreakGlass : .allow, query: query)]
        if withheld > 0 {
            records.append(record(
                subtype, action: .read, type: type, id: id, patients: withheldPatients, decision: denial,
                description: "denied: \(withheld) result(s) withheld", query: query))
        }
        return (shown, records)
    }

    /// Searches show what the caller may see, decided in SQL so that pages are full and totals
    /// true: a patient's run inside their own compartment; a doctor's (without break-glass) only
    /// over resources whose patients they all care for. Asking for other patients' records
    /// (`patient=`/`subject=`, or their compartment) is a denial, whose audit record is returned.
    /// Every result still passes `visible` (scopes, and the rules SQL does not cover).
    func restrictToVisible(
        _ query: inout SearchQuery, items: [(key: String, value: String)], compartment: String?, subtype: String,
        type: String?, queryText: String?
    ) async throws -> AuditRecord? {
        var named = Set<String>()
        for (key, value) in items {
            let code = key.split(separator: ":").first.map(String.init) ?? key
            guard code == "patient" || code == "subject" else { continue }
            for token in value.split(separator: ",").map(String.init) {
                if let id = token.contains("/") ? PatientCompartment.patientID(fromReference: token) : token { named.insert(id) }
            }
        }
        if let compartment { named.insert(compartment) }
        let others: Set<String>
        let reason: String
        switch principal.role {
        case .patient:
            guard let me = principal.patientID else { return nil }
            if query.anyType || query.types.contains(where: PatientCompartment.resourceTypes.contains) {
                query.common.append(.compartment(patients: [me]))
            }
            others = named.subtracting([me])
            reason = "compartment"
        case .doctor:
            guard access.breakGlassReason == nil, let me = principal.practitionerID else { return nil }
            query.common.append(.caredFor(practitioner: me))
            guard !named.isEmpty else { return nil }
            others = named.subtracting(try await access.relationships.patients(of: me, among: named))
            reason = "no care relationship"
        case .admin, .billing, .system:
            return nil
        }
        guard !others.isEmpty else { return nil }
        return record(
            subtype, action: .read, type: type, patients: others, decision: .deny(reason),
            description: "denied: another patient's records", query: queryText)
    }

    // MARK: - Writes

    /// Decides a write; a denial is audited and thrown as 403.
    func authorizeWrite(
        _ subtype: String, type: String, id: String, permission: SMARTPermission, old: JSONValue?, new: JSONValue?
    ) async throws -> AccessDecision {
        let decision = try await access.decideWrite(type: type, id: id, permission: permission, old: old, new: new)
        if case .deny = decision {
            var patients = Set<String>()
            if let old { patients.formUnion(access.patients(type: type, id: id, resource: old)) }
            if let new { patients.formUnion(access.patients(type: type, id: id, resource: new)) }
            let denial = record(subtype, action: Self.action(for: permission), type: type, id: id, patients: patients, decision: decision)
            throw Denied(
                error: FHIRHTTPError(status: .forbidden, code: .forbidden, "this \(subtype) of \(type) is not permitted"),
                record: denial)
        }
        return decision
    }

    /// The audit record of a write that succeeded (committed with it).
    func written(_ subtype: String, stored: StoredResource, resource: JSONValue?, old: JSONValue?, decision: AccessDecision) -> AuditRecord {
        var patients = Set<String>()
        if let resource { patients.formUnion(access.patients(type: stored.type, id: stored.id, resource: resource)) }
        if let old { patients.formUnion(access.patients(type: stored.type, id: stored.id, resource: old)) }
        let action: AuditRecord.Action = subtype == "create" ? .create : (subtype == "delete" ? .delete : .update)
        return record(subtype, action: action, type: stored.type, id: stored.id, version: stored.versionID, patients: patients, decision: decision)
    }

    /// Runs a write; a denial thrown inside (after its transaction rolled back) is audited
    /// on its own and answered 403.
    func auditingDenials<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let denied as Denied {
            try await audit.record(denied.record)
            throw denied.error
        }
    }

    static func action(for permission: SMARTPermission) -> AuditRecord.Action {
        switch permission {
        case .create: .create
        case .read, .search: .read
        case .update: .update
        case .delete: .delete
        }
    }
}
