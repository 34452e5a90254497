import FHIRModels
import Foundation
import Logging
import PostgresNIO

/// AuditEvents as the parallel arrays one `INSERT … SELECT FROM unnest(…)` takes: the group
/// commit of reads and the write statements both insert this way. Optional values travel as ""
/// (or -1 for the version) and become NULL in SQL, since postgres-nio binds no arrays of optionals.
struct AuditRows: Sendable {
    var ids: [String] = []
    var recorded: [Date] = []
    var actions: [String] = []
    var subtypes: [String] = []
    var outcomes: [String] = []
    var descriptions: [String] = []
    var agents: [String] = []
    var roles: [String] = []
    var fhirUsers: [String] = []
    var clients: [Bool] = []
    var addresses: [String] = []
    var purposes: [String] = []
    var reasons: [String] = []
    var entityTypes: [String] = []
    var entityIDs: [String] = []
    var entityVersions: [Int] = []
    /// Patient ids separated by spaces (ids never contain spaces), "" for none.
    var patients: [String] = []
    var queries: [String] = []
    var requestIDs: [String] = []

    init() {}

    init(_ records: [AuditRecord]) {
        for record in records { append(record) }
    }

    var isEmpty: Bool { ids.isEmpty }
    var count: Int { ids.count }

    mutating func append(_ record: AuditRecord) {
        ids.append(record.id)
        recorded.append(record.recorded)
        actions.append(record.action.rawValue)
        subtypes.append(record.subtype)
        outcomes.append(record.outcome.rawValue)
        descriptions.append(record.outcomeDescription ?? "")
        agents.append(record.agentUserID ?? "")
        roles.append(record.agentRole ?? "")
        fhirUsers.append(record.agentFHIRUser ?? "")
        clients.append(record.agentIsClient)
        addresses.append(record.clientAddress ?? "")
        purposes.append(record.purposeOfUse ?? "")
        reasons.append(record.breakGlassReason ?? "")
        entityTypes.append(record.entityType ?? "")
        entityIDs.append(record.entityID ?? "")
        entityVersions.append(record.entityVersion ?? -1)
        patients.append(record.patientIDs.joined(separator: " "))
        queries.append(record.query ?? "")
        requestIDs.append(record.requestID ?? "")
    }

    mutating func append(contentsOf other: AuditRows) {
        ids += other.ids
        recorded += other.recorded
        actions += other.actions
        subtypes += other.subtypes
        outcomes += other.outcomes
        descriptions += other.descriptions
        agents += other.agents
        roles += other.roles
        fhirUsers += other.fhirUsers
        clients += other.clients
        addresses += other.addresses
        purposes += other.purposes
        reasons += other.reasons
        entityTypes += other.entityTypes
        entityIDs += other.entityIDs
        entityVersions += other.entityVersions
        patients += other.patients
        queries += other.queries
        requestIDs += other.requestIDs
    }

    /// The insert of these rows on its own (the group commit), prepared once per connection:
    /// the text is the same for every batch, only the bound arrays differ.
    struct InsertStatement: PostgresPreparedStatement {
        static let name = "medrec_audit_insert"
        static let sql: String = {
            var parameters = SQLParameters()
            return AuditRows().insertSQL(&parameters)
        }()
        typealias Row = Int

        let rows: AuditRows

        func makeBindings() throws -> PostgresBindings {
            var parameters = SQLParameters()
            _ = rows.insertSQL(&parameters)
            return parameters.bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { 0 }
    }

    /// The insert of these rows, their arrays bound into `parameters`; composes into larger
    /// statements (a create's single statement).
    func insertSQL(_ parameters: inout SQLParameters) -> String {
        func p<Value: PostgresDynamicTypeEncodable>(_ values: Value, _ type: String) -> String {
            "\(parameters.bind(values))::\(type)[]"
        }
        return """
            INSERT INTO audit_event (id, recorded, action, subtype, outcome, outcome_desc, agent_id, agent_role,
                agent_fhir_user, agent_is_client, client_address, purpose, break_glass_reason, entity_type, entity_id,
                entity_version, patient_ids, query, request_id)
            SELECT a.id::uuid, a.recorded, a.action, a.subtype, a.outcome, NULLIF(a.description, ''), NULLIF(a.agent, ''),
                NULLIF(a.role, ''), NULLIF(a.fhir_user, ''), a.client, NULLIF(a.address, ''), NULLIF(a.purpose, ''),
                NULLIF(a.reason, ''), NULLIF(a.entity_type, ''), NULLIF(a.entity_id, ''), NULLIF(a.entity_version, -1),
                CASE WHEN a.patients = '' THEN '{}'::text[] ELSE string_to_array(a.patients, ' ') END, NULLIF(a.query, ''),
                NULLIF(a.request_id, '')
            FROM unnest(\(p(ids, "text")), \(p(recorded, "timestamptz")), \(p(actions, "text")), \(p(subtypes, "text")),
                \(p(outcomes, "text")), \(p(descriptions, "text")), \(p(agents, "text")), \(p(roles, "text")),
                \(p(fhirUsers, "text")), \(p(clients, "boolean")), \(p(addresses, "text")), \(p(purposes, "text")),
                \(p(reasons, "text")), \(p(entityTypes, "text")), \(p(entityIDs, "text")), \(p(entityVersions, "integer")),
                \(p(patients, "text")), \(p(queries, "text")), \(p(requestIDs, "text")))
                AS a(id, recorded, action, subtype, outcome, description, agent, role, fhir_user, client, address, purpose,
                    reason, entity_type, entity_id, entity_version, patients, query, request_id)
            """
    }

    /// One stored event by id (nil for an unknown or malformed id).
    static func fetch(id: String, client: PostgresClient, logger: Logger) async throws -> AuditRecord? {
        guard UUID(uuidString: id) != nil else { return nil }
        let rows = try await client.rows(
            "SELECT \(unescaped: selectColumns) FROM audit_event WHERE id = \(id)::uuid", logger: logger)
        for try await row in rows { return try record(from: row).record }
        return nil
    }

    /// Newest first, at most `limit`, older than `before`, about `patient`, by `agent`, of
    /// `subtype`, only failures (`failures` true) or only successes (false), recorded in
    /// [`since`, `until`) when given.
    static func page(
        patient: String?, agent: String?, before: Int64?, limit: Int, subtype: String? = nil, failures: Bool? = nil,
        since: Date? = nil, until: Date? = nil, client: PostgresClient, logger: Logger
    ) async throws -> [(key: Int64, record: AuditRecord)] {
        let patients = patient.map { [$0] }
        let rows = try await client.rows(
            """
            SELECT \(unescaped: selectColumns) FROM audit_event
            WHERE (\(patients)::text[] IS NULL OR patient_ids @> \(patients)::text[])
                AND (\(agent)::text IS NULL OR agent_id = \(agent)::text)
                AND (\(subtype)::text IS NULL OR subtype = \(subtype)::text)
                AND (\(failures)::boolean IS NULL OR (outcome <> '0') = \(failures)::boolean)
                AND (\(since)::timestamptz IS NULL OR recorded >= \(since)::timestamptz)
                AND (\(until)::timestamptz IS NULL OR recorded < \(until)::timestamptz)
                AND audit_key < \(before ?? Int64.max)
            ORDER BY audit_key DESC LIMIT \(limit)
            """, logger: logger)
        var result: [(key: Int64, record: AuditRecord)] = []
        for try await row in rows { result.append(try record(from: row)) }
        return result
    }

    /// Failed events (any outcome but success) among those recorded since an instant: the
    /// status page's recent error rate. Reads at most the newest `window` rows backwards by
    /// key (ids are time-ordered; `recorded` has no index), so a busy log costs a bounded scan.
    static func failures(
        since: Date, window: Int = 100_000, client: PostgresClient, logger: Logger
    ) async throws -> (failed: Int, total: Int) {
        let rows = try await client.rows(
            """
            SELECT count(*) FILTER (WHERE outcome <> '0'), count(*)
            FROM (SELECT outcome, recorded FROM audit_event ORDER BY audit_key DESC LIMIT \(window)) AS recent
            WHERE recorded >= \(since)
            """, logger: logger)
        for try await (failed, total) in rows.decode((Int64, Int64).self) { return (Int(failed), Int(total)) }
        return (0, 0)
    }

    /// The columns `record(from:)` reads, in order.
    static let selectColumns = """
        audit_key, id::text, recorded, action, subtype, outcome, outcome_desc, agent_id, agent_role, agent_fhir_user,
        agent_is_client, client_address, purpose, break_glass_reason, entity_type, entity_id, entity_version, patient_ids, query,
        request_id
        """

    /// A stored row back as its record (and its key, for paging).
    static func record(from row: PostgresRow) throws -> (key: Int64, record: AuditRecord) {
        let cells = row.makeRandomAccess()
        let action = AuditRecord.Action(rawValue: try cells[3].decode(String.self)) ?? .execute
        let outcome = AuditRecord.Outcome(rawValue: try cells[5].decode(String.self)) ?? .majorFailure
        let record = AuditRecord(
            id: try cells[1].decode(String.self), recorded: try cells[2].decode(Date.self), action: action,
            subtype: try cells[4].decode(String.self), outcome: outcome, outcomeDescription: try cells[6].decode(String?.self),
            agentUserID: try cells[7].decode(String?.self), agentRole: try cells[8].decode(String?.self),
            agentFHIRUser: try cells[9].decode(String?.self), agentIsClient: try cells[10].decode(Bool.self),
            clientAddress: try cells[11].decode(String?.self), purposeOfUse: try cells[12].decode(String?.self),
            breakGlassReason: try cells[13].decode(String?.self), entityType: try cells[14].decode(String?.self),
            entityID: try cells[15].decode(String?.self), entityVersion: try cells[16].decode(Int?.self),
            patientIDs: try cells[17].decode([String].self), query: try cells[18].decode(String?.self),
            requestID: try cells[19].decode(String?.self))
        return (try cells[0].decode(Int64.self), record)
    }
}
