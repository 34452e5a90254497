import FHIRModels
import Foundation

/// AuditEvents as the parallel arrays one `INSERT … SELECT FROM unnest(…)` takes: the group
/// commit of reads and the write statements both insert this way.
struct AuditRows: Sendable {
    var ids: [String] = []
    var recorded: [Date] = []
    var subtypes: [String] = []
    var outcomes: [String] = []
    /// The agent's user or client id, "" when unknown (a failed login).
    var agents: [String] = []
    /// Patient ids separated by spaces (ids never contain spaces), "" for none.
    var patients: [String] = []
    /// The AuditEvent as JSON text.
    var contents: [String] = []

    init() {}

    init(_ records: [AuditRecord]) {
        for record in records { append(record) }
    }

    var isEmpty: Bool { ids.isEmpty }
    var count: Int { ids.count }

    mutating func append(_ record: AuditRecord) {
        ids.append(record.id)
        recorded.append(record.recorded)
        subtypes.append(record.subtype)
        outcomes.append(record.outcome.rawValue)
        agents.append(record.agentUserID ?? "")
        patients.append(record.patientIDs.joined(separator: " "))
        contents.append(String(decoding: FHIRJSON.serialize(AuditEventBuilder.build(record)), as: UTF8.self))
    }

    mutating func append(contentsOf other: AuditRows) {
        ids += other.ids
        recorded += other.recorded
        subtypes += other.subtypes
        outcomes += other.outcomes
        agents += other.agents
        patients += other.patients
        contents += other.contents
    }
}
