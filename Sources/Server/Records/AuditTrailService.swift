import FHIRModels
import Foundation

/// Reading the audit log, once, for every face (the FHIR API's `/fhir/AuditEvent` today, the
/// web pages' "who looked at my record" next): newest first with keyset paging. Admins and
/// system clients (with scope) see everything; a patient sees only the events about their own
/// record. Reading the log is itself audited. Returns BALP AuditEvents; knows nothing of HTTP.
public struct AuditTrailService: Sendable {
    let security: SecurityServices

    public init(security: SecurityServices) {
        self.security = security
    }

    /// What a search of the trail asks.
    public struct Filter: Sendable {
        /// Events about this patient.
        public var patient: String?
        /// Events by this user or client id.
        public var agent: String?
        /// Only events older than this key (the previous page's `next`).
        public var before: Int64?
        public var count: Int
        /// The query as the audit log keeps it.
        public var queryText: String?
        /// Events of this kind: the stored subtype (`read`, `search-type`, `login`, …).
        public var subtype: String?
        /// Successes only, or failures of any severity only.
        public var outcome: OutcomeFilter?
        /// Events recorded at or after `since` and before `until`.
        public var since: Date?
        public var until: Date?

        public init(
            patient: String? = nil, agent: String? = nil, before: Int64? = nil, count: Int, queryText: String? = nil,
            subtype: String? = nil, outcome: OutcomeFilter? = nil, since: Date? = nil, until: Date? = nil
        ) {
            self.patient = patient
            self.agent = agent
            self.before = before
            self.count = count
            self.queryText = queryText
            self.subtype = subtype
            self.outcome = outcome
            self.since = since
            self.until = until
        }
    }

    public enum OutcomeFilter: String, Sendable, CaseIterable {
        case success, failure
    }

    public struct Page: Sendable {
        public let events: [JSONValue]
        /// The cursor of the next (older) page.
        public let next: Int64?
    }

    /// One AuditEvent; an unknown one, or one the caller may not read, is "not known".
    public func read(id: String, as caller: Caller) async throws -> JSONValue {
        let access = AuditedAccess(try await security.confirmed(caller), security: security)
        let found = try await AuditRows.fetch(id: id, client: security.audit.client, logger: security.audit.logger)
        guard let record = found else {
            try await security.audit.record(access.record(.read, type: "AuditEvent", id: id, outcome: .minorFailure, description: "HTTP 404"))
            throw RecordService.notKnown("AuditEvent", id)
        }
        let event = AuditEventBuilder.build(record)
        let decision = try await access.access.decideRead(type: "AuditEvent", id: id, resource: event, permission: .read)
        try await security.audit.record(access.record(.read, type: "AuditEvent", id: id, decision: decision))
        guard decision.isAllowed else { throw AccessDenied(.hidden, "AuditEvent/\(id) is not known") }
        return event
    }

    /// A page of the trail as the caller may see it.
    public func search(_ filter: Filter, as caller: Caller) async throws -> Page {
        let page = try await searchRecords(filter, as: caller)
        return Page(events: page.records.map(AuditEventBuilder.build), next: page.next)
    }

    /// The same page as the facts the log stores (the web pages render them without going
    /// through the AuditEvent shape).
    public struct RecordPage: Sendable {
        public let records: [AuditRecord]
        public let next: Int64?
    }

    public func searchRecords(_ filter: Filter, as caller: Caller) async throws -> RecordPage {
        let access = AuditedAccess(try await security.confirmed(caller), security: security)
        try await access.requireSearchScope(on: "AuditEvent", .searchType, query: filter.queryText)
        var filter = filter
        switch access.principal.role {
        case .admin, .system: break
        case .patient:
            guard let me = access.principal.patientID else { throw AccessDenied(.forbidden, "the account has no linked Patient") }
            if let patient = filter.patient, patient != me {
                // Another patient's trail: nothing, and the attempt is recorded.
                try await security.audit.record(access.record(.searchType, type: "AuditEvent", patients: [patient], decision: .deny("compartment")))
                return RecordPage(records: [], next: nil)
            }
            filter.patient = me
        case .doctor, .billing:
            try await security.audit.record(access.record(.searchType, type: "AuditEvent", decision: .deny("role")))
            throw AccessDenied(.forbidden, "the audit log is not readable with this role")
        }
        var rows = try await AuditRows.page(
            patient: filter.patient, agent: filter.agent, before: filter.before, limit: filter.count + 1,
            subtype: filter.subtype, failures: filter.outcome.map { $0 == .failure }, since: filter.since, until: filter.until,
            client: security.audit.client, logger: security.audit.logger)
        var next: Int64?
        if rows.count > filter.count {
            rows.removeLast()
            next = rows.last?.key
        }
        try await security.audit.record(access.record(
            .searchType, type: "AuditEvent", patients: filter.patient.map { [$0] } ?? [], query: filter.queryText))
        return RecordPage(records: rows.map(\.record), next: next)
    }
}
