import FHIRModels
import Foundation

/// One caller's access decisions and their audit, inside the services: decides with
/// `AccessControl`, builds every AuditEvent record from the caller and a typed
/// `AuditedInteraction`, and turns denials into `AccessDenied` (a denied read is absence, a
/// denied write is forbidden). Nothing here knows HTTP; every face reaches it through
/// `RecordService` or `SearchService`.
struct AuditedAccess: Sendable {
    let access: AccessControl
    let audit: AuditLog
    let clientAddress: String?

    var principal: Principal { access.principal }

    init(_ caller: Caller, security: SecurityServices) {
        access = AccessControl(
            principal: caller.principal, breakGlassReason: caller.breakGlassReason, relationships: security.relationships)
        audit = security.audit
        clientAddress = caller.clientAddress
    }

    /// The practitioner whose creates become care relationships: a doctor's, except under
    /// break-glass (emergency access must not turn into standing access).
    var author: String? {
        access.breakGlassReason == nil ? principal.practitionerID : nil
    }

    /// The audit record of one access, filled from the principal.
    func record(
        _ interaction: AuditedInteraction, type: String? = nil, id: String? = nil, version: Int? = nil,
        patients: Set<String> = [], decision: AccessDecision = .allow, outcome: AuditRecord.Outcome? = nil,
        description: String? = nil, query: String? = nil
    ) -> AuditRecord {
        var record = AuditRecord(interaction)
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
            record.purposeOfUse = AuditRecord.purpose(of: principal.role)
        case .allowByBreakGlass:
            record.outcome = outcome ?? .success
            record.outcomeDescription = description ?? "break-glass"
            record.purposeOfUse = "BTG"
            record.breakGlassReason = access.breakGlassReason
        case .deny(let reason):
            record.outcome = .minorFailure
            record.outcomeDescription = "denied: \(reason)"
            record.purposeOfUse = access.breakGlassReason != nil ? "BTG" : AuditRecord.purpose(of: principal.role)
            record.breakGlassReason = access.breakGlassReason
        }
        return record
    }

    // MARK: - Reads

    /// The audit record of reading a stored version when the caller may read it; otherwise
    /// audits the denial and throws the "not known" a missing resource gives. A current version
    /// read with its compartment (`compartmentPatients`) is decided without parsing it.
    func readable(_ stored: StoredResource, _ interaction: AuditedInteraction, permission: SMARTPermission = .read) async throws -> AuditRecord {
        let patients: Set<String>
        if let known = stored.compartmentPatients, stored.type != "AuditEvent" {
            patients = known
        } else {
            guard let resource = try stored.resource() else { throw RecordService.notKnown(stored.type, stored.id) }
            patients = access.patients(type: stored.type, id: stored.id, resource: resource)
        }
        let decision = try await access.decideRead(
            type: stored.type, patients: patients, permission: permission, caredFor: stored.caredForPatients)
        let record = record(interaction, type: stored.type, id: stored.id, version: stored.versionID, patients: patients, decision: decision)
        guard decision.isAllowed else {
            try await audit.record(record)
            throw AccessDenied(.hidden, "\(stored.type)/\(stored.id) is not known")
        }
        return record
    }

    /// What the caller is shown of a version it may read: the doctor directory in its directory
    /// view for patients and billing staff (`DirectoryView`), anything else as stored.
    func presented(_ stored: StoredResource) throws -> StoredResource {
        guard stored.json != nil, access.seesDirectoryView(of: stored.type) else { return stored }
        return try DirectoryView.redact(stored)
    }

    /// `presented` for rows of a search or history, keeping a parsed resource parsed.
    func presented(_ rows: [(stored: StoredResource, resource: JSONValue?)]) throws -> [(stored: StoredResource, resource: JSONValue?)] {
        try rows.map { row in
            guard row.stored.json != nil, access.seesDirectoryView(of: row.stored.type) else { return row }
            let view = DirectoryView.redact(try row.resource ?? row.stored.resource() ?? .object([:]))
            return (row.stored.replacingJSON(FHIRJSON.serialize(view)), row.resource == nil ? nil : view)
        }
    }

    /// A search the caller may not run on the doctor directory (`DirectoryView.refusal`) is
    /// refused, its audit record carried by the denial. Nothing to check for doctors and system
    /// clients.
    func requireDirectorySearch(_ query: SearchQuery, _ interaction: AuditedInteraction, type: String?, queryText: String?) throws {
        let redacted = principal.role == .patient || principal.role == .billing
        guard redacted || principal.role == .admin, let reason = DirectoryView.refusal(of: query, redacted: redacted) else { return }
        throw AccessDenied(.forbidden, reason, record: record(interaction, type: type, decision: .deny(reason), query: queryText))
    }

    /// Audits a read that failed before any access decision (unknown id, deleted, bad request).
    func auditFailure(_ interaction: AuditedInteraction, type: String?, id: String?, error: any Error) async {
        let serious: Bool
        switch error {
        case let error as StoreError:
            switch error.code {
            case .unavailable, .timeout, .integrity: serious = true
            default: serious = false
            }
        case is AccessDenied, is FHIRFormatError: serious = false
        default: serious = true
        }
        let failure = record(
            interaction, type: type, id: id, outcome: serious ? .seriousFailure : .minorFailure,
            description: Self.failureDescription(error))
        try? await audit.record(failure)
    }

    /// "HTTP 404"-style descriptions, as the audit log has always recorded them.
    private static func failureDescription(_ error: any Error) -> String {
        switch error {
        case let error as StoreError:
            switch error.code {
            case .notFound: return "HTTP 404"
            case .gone: return "HTTP 410"
            case .versionConflict, .multipleMatches: return "HTTP 412"
            case .invalid: return "HTTP 422"
            case .badRequest: return "HTTP 400"
            case .unavailable, .timeout: return "HTTP 503"
            case .integrity: return "HTTP 500"
            }
        case let denied as AccessDenied: return denied.kind == .hidden ? "HTTP 404" : "HTTP 403"
        case is FHIRFormatError: return "HTTP 400"
        default: return "HTTP 500"
        }
    }

    // MARK: - Searches and histories

    /// A search of `type` the token's scopes do not allow at all: audited and refused.
    func requireSearchScope(on type: String, _ interaction: AuditedInteraction, query: String?) async throws {
        guard !access.scopeAllows(.search, on: type) else { return }
        try await audit.record(record(interaction, type: type, decision: .deny("scope"), query: query))
        throw AccessDenied(.forbidden, "the access token's scopes do not allow searching \(type)")
    }

    /// What a search or history may show of `items`, each with its parsed resource (nil for a
    /// deletion, shown only when `showDeletions`), and its audit records: one for what was shown,
    /// and a denial naming the withheld results' patients when any were left out.
    func visible(
        _ items: [StoredResource], _ interaction: AuditedInteraction, type: String?, id: String? = nil, permission: SMARTPermission,
        showDeletions: Bool = false, query: String?
    ) async throws -> (shown: [(stored: StoredResource, resource: JSONValue?)], records: [AuditRecord]) {
        let decided = try await visibleRows(
            items, interaction, type: type, id: id, permission: permission, showDeletions: showDeletions, query: query)
        return (try decided.shown.map { ($0.stored, try $0.resource ?? $0.stored.resource()) }, decided.records)
    }

    /// `visible` without parsing what deciding did not need: a row read with its compartment
    /// (`compartmentPatients`, from the index written with it) is decided from that, and comes
    /// back with a nil resource (its JSON is in `stored.json`); rows without it (older index
    /// versions, history, AuditEvents) are parsed, and come back parsed. A doctor's care
    /// relationships for the whole page are looked up in one query, not one per row.
    func visibleRows(
        _ items: [StoredResource], _ interaction: AuditedInteraction, type: String?, id: String? = nil, permission: SMARTPermission,
        showDeletions: Bool = false, query: String?
    ) async throws -> (shown: [(stored: StoredResource, resource: JSONValue?)], records: [AuditRecord]) {
        // Each row's compartment, from the index or by parsing it (nil: a deletion).
        var rows: [(stored: StoredResource, resource: JSONValue?, patients: Set<String>)?] = []
        rows.reserveCapacity(items.count)
        var everyPatient = Set<String>()
        for stored in items {
            guard stored.json != nil else {
                rows.append(nil)
                continue
            }
            if let known = stored.compartmentPatients, stored.type != "AuditEvent" {
                rows.append((stored, nil, known))
                everyPatient.formUnion(known)
            } else {
                guard let resource = try stored.resource() else {
                    rows.append(nil)
                    continue
                }
                let patients = access.patients(type: stored.type, id: stored.id, resource: resource)
                rows.append((stored, resource, patients))
                everyPatient.formUnion(patients)
            }
        }
        // A doctor: which of the page's patients they care for, once for the page.
        var related: Set<String>? = nil
        if principal.role == .doctor, let me = principal.practitionerID {
            related = everyPatient.isEmpty ? [] : try await access.relationships.patients(of: me, among: everyPatient)
        }
        var shown: [(stored: StoredResource, resource: JSONValue?)] = []
        var returnedPatients = Set<String>()
        var withheldPatients = Set<String>()
        var withheld = 0
        var denial: AccessDecision = .allow
        var breakGlassUsed = false
        for (index, row) in rows.enumerated() {
            guard let row else {
                if showDeletions { shown.append((items[index], nil)) }
                continue
            }
            let decision: AccessDecision
            if row.stored.type == "AuditEvent", let resource = row.resource {
                decision = try await access.decideRead(type: row.stored.type, id: row.stored.id, resource: resource, permission: permission)
            } else {
                decision = try await access.decideRead(
                    type: row.stored.type, patients: row.patients, permission: permission,
                    caredFor: related.map { $0.intersection(row.patients) }, caredForIsComplete: related != nil)
            }
            if decision.isAllowed {
                shown.append((row.stored, row.resource))
                returnedPatients.formUnion(row.patients)
                if decision == .allowByBreakGlass { breakGlassUsed = true }
            } else {
                withheld += 1
                withheldPatients.formUnion(row.patients)
                denial = decision
            }
        }
        var records = [record(
            interaction, type: type, id: id, patients: returnedPatients, decision: breakGlassUsed ? .allowByBreakGlass : .allow,
            query: query)]
        if withheld > 0 {
            records.append(record(
                interaction, type: type, id: id, patients: withheldPatients, decision: denial,
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
        _ query: inout SearchQuery, items: [(key: String, value: String)], compartment: String?, _ interaction: AuditedInteraction,
        type: String?, queryText: String?
    ) async throws -> AuditRecord? {
        var named = Set<String>()
        for (key, value) in items {
            let code = key.split(separator: ":").first.map(String.init) ?? key
            guard code == "patient" || code == "subject" else { continue }
            for token in value.split(separator: ",").map(String.init) {
                if let id = token.contains("/") ? ResourceReference(token).id(ofType: "Patient") : token { named.insert(id) }
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
            interaction, type: type, patients: others, decision: .deny(reason), description: "denied: another patient's records",
            query: queryText)
    }

    // MARK: - Writes

    /// A write's decision and the patients whose compartments it touches (old and new
    /// content), computed once for the decision, a denial's record and the write's record.
    struct WriteDecision: Sendable {
        let decision: AccessDecision
        let patients: Set<String>
    }

    /// Decides a write; a denial is thrown as forbidden with its (not yet stored) audit record.
    func authorizeWrite(
        _ interaction: AuditedInteraction, type: String, id: String, permission: SMARTPermission, old: JSONValue?, new: JSONValue?
    ) async throws -> WriteDecision {
        var patients = Set<String>()
        if let old { patients.formUnion(access.patients(type: type, id: id, resource: old)) }
        if let new { patients.formUnion(access.patients(type: type, id: id, resource: new)) }
        let decision = try await access.decideWrite(type: type, id: id, permission: permission, old: old, new: new, patients: patients)
        if case .deny = decision {
            let denial = record(interaction, type: type, id: id, patients: patients, decision: decision)
            throw AccessDenied(.forbidden, "this \(interaction.subtype) of \(type) is not permitted", record: denial)
        }
        return WriteDecision(decision: decision, patients: patients)
    }

    /// The audit record of a write that succeeded (committed with it); `description` says more
    /// of what was done when the interaction alone does not (a patient's booking).
    func written(
        _ interaction: AuditedInteraction, type: String, id: String, version: Int, _ write: WriteDecision, description: String? = nil
    ) -> AuditRecord {
        record(interaction, type: type, id: id, version: version, patients: write.patients, decision: write.decision, description: description)
    }

    /// Runs `body`; a denial thrown inside (after its transaction rolled back) is audited on
    /// its own and rethrown.
    func auditingDenials<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let denied as AccessDenied {
            if let record = denied.record { try await audit.record(record) }
            throw denied.audited
        }
    }
}
