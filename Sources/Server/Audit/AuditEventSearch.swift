import FHIRModels
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// Reading the audit log as FHIR AuditEvents: `GET /fhir/AuditEvent/{id}` and
/// `GET /fhir/AuditEvent?patient=…&agent=…&_count=…`, newest first with keyset paging.
/// Admins and system clients (with scope) see everything; a patient sees only the events about
/// their own record ("who looked at my record"). Reading the log is itself audited.
struct AuditEventSearch: Sendable {
    let client: PostgresClient
    let logger: Logger

    func read(id: String, access guarded: AuditedAccess) async throws -> JSONValue {
        var found: JSONValue?
        if UUID(uuidString: id) != nil {
            let rows = try await client.query(
                PostgresQuery(unsafeSQL: "SELECT \(AuditRows.selectColumns) FROM audit_event WHERE id = $1::uuid", binds: Self.bind(id)),
                logger: logger)
            for try await row in rows { found = AuditEventBuilder.build(try AuditRows.record(from: row).record) }
        }
        guard let resource = found else {
            try await guarded.audit.record(guarded.record(.read, type: "AuditEvent", id: id, outcome: .minorFailure, description: "HTTP 404"))
            throw FHIRHTTPError.notFound("AuditEvent/\(id) is not known")
        }
        let decision = try await guarded.access.decideRead(type: "AuditEvent", id: id, resource: resource, permission: .read)
        try await guarded.audit.record(guarded.record(.read, type: "AuditEvent", id: id, decision: decision))
        guard decision.isAllowed else { throw FHIRHTTPError.notFound("AuditEvent/\(id) is not known") }
        return resource
    }

    func search(
        request: Request, items: [(key: String, value: String)], count: Int, access guarded: AuditedAccess, base: String,
        format: FHIRFormat
    ) async throws -> Response {
        var patient: String?
        var agent: String?
        var cursor: Int64?
        for (key, value) in items {
            switch key {
            case "patient", "entity":
                guard let id = value.contains("/") ? PatientCompartment.patientID(fromReference: value) : value,
                      FHIRRequest.isValidID(id) else {
                    throw FHIRHTTPError.badRequest("\(key) must name a Patient", expression: key)
                }
                patient = id
            case "agent":
                guard !value.isEmpty, value.count <= 128 else { throw FHIRHTTPError.badRequest("agent must be a user or client id", expression: key) }
                agent = value
            case "_cursor":
                guard let parsed = Int64(value) else { throw FHIRHTTPError.badRequest("_cursor is not valid", expression: key) }
                cursor = parsed
            default:
                throw FHIRHTTPError.badRequest(
                    "AuditEvent search supports patient, agent, _count and _cursor", code: .notSupported, expression: String(key.prefix(64)))
            }
        }
        switch guarded.principal.role {
        case .admin, .system: break
        case .patient:
            guard let me = guarded.principal.patientID else {
                throw FHIRHTTPError(status: .forbidden, code: .forbidden, "the account has no linked Patient")
            }
            if let patient, patient != me {
                // Another patient's trail: nothing, and the attempt is recorded.
                try await guarded.audit.record(guarded.record(.searchType, type: "AuditEvent", patients: [patient], decision: .deny("compartment")))
                return response(entries: [], next: nil, base: base, request: request, format: format)
            }
            patient = me
        default:
            try await guarded.audit.record(guarded.record(.searchType, type: "AuditEvent", decision: .deny("role")))
            throw FHIRHTTPError(status: .forbidden, code: .forbidden, "the audit log is not readable with this role")
        }
        let patientArray = patient.map { [$0] }
        let limit = count + 1
        var bindings = PostgresBindings(capacity: 4)
        bindings.append(patientArray)
        bindings.append(agent)
        bindings.append(cursor ?? Int64.max)
        bindings.append(limit)
        let rows = try await client.query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT \(AuditRows.selectColumns) FROM audit_event
                    WHERE ($1::text[] IS NULL OR patient_ids @> $1::text[]) AND ($2::text IS NULL OR agent_id = $2::text)
                        AND audit_key < $3
                    ORDER BY audit_key DESC LIMIT $4
                    """, binds: bindings),
            logger: logger)
        var entries: [(Int64, JSONValue)] = []
        for try await row in rows {
            let (key, record) = try AuditRows.record(from: row)
            entries.append((key, AuditEventBuilder.build(record)))
        }
        var next: Int64?
        if entries.count > count {
            entries.removeLast()
            next = entries.last?.0
        }
        try await guarded.audit.record(guarded.record(.searchType, type: "AuditEvent", patients: patient.map { [$0] } ?? [],
            query: request.uri.query.map { String($0.prefix(2048)) }))
        return response(entries: entries.map(\.1), next: next, base: base, request: request, format: format)
    }

    static func bind(_ value: String) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(value)
        return bindings
    }

    private func response(entries: [JSONValue], next: Int64?, base: String, request: Request, format: FHIRFormat) -> Response {
        let selfURL = "\(base)/AuditEvent" + (request.uri.query.map { "?" + $0 } ?? "")
        var links: [JSONValue] = [.object(["relation": .string("self"), "url": .string(selfURL)])]
        if let next {
            var items = request.uri.queryParameters.filter { $0.key != "_cursor" }.map { "\($0.key)=\($0.value)" }
            items.append("_cursor=\(next)")
            links.append(.object(["relation": .string("next"), "url": .string("\(base)/AuditEvent?\(items.joined(separator: "&"))")]))
        }
        var bundle: JSONObject = ["resourceType": .string("Bundle"), "type": .string("searchset"), "link": .array(links)]
        if !entries.isEmpty {
            bundle["entry"] = .array(entries.map { resource in
                .object([
                    "fullUrl": .string("\(base)/AuditEvent/\(resource["id"]?.stringValue ?? "")"),
                    "resource": resource,
                    "search": .object(["mode": .string("match")]),
                ])
            })
        }
        return FHIRResponse.make(status: .ok, resource: .object(bundle), format: format, pretty: FHIRFormat.pretty(request))
    }
}
