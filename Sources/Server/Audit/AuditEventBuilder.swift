import FHIRModels
import Foundation

/// Shapes an `AuditRecord` into an R4 AuditEvent following IHE Basic Audit Log Patterns
/// (BALP), so the audit log can be read by standard tools and queried by patient.
///
/// Choices worth knowing when reading the output:
/// - REST interactions use type `audit-event-type#rest` and a `restful-interaction` subtype;
///   login, login-failed, token and refresh use DICOM `110114` User Authentication with subtype
///   `110122` Login, logout `110123` Logout. Subtypes with no standard code (login-failed,
///   token, refresh, or anything unknown) also carry a coding in `subtypeSystem` so they stay
///   distinguishable.
/// - A break-glass reason goes in the requesting agent's `purposeOfUse[].text`, beside the
///   v3-ActReason `BTG` coding (no extension needed); `purposeOfEvent` carries the code alone.
/// - Agents: the requestor (user or client, `requestor: true`) and the server itself
///   (DICOM `110152` Destination Role ID, `requestor: false`), as BALP does.
/// - The request's `X-Request-Id` is an entity of BALP's `XrequestId` type, its value in
///   `what.identifier`, as BALP's RESTful patterns record it: the key from an AuditEvent to the
///   proxy's and the server's log lines of the same request.
public enum AuditEventBuilder {
    /// Local code system for subtypes that have no standard code.
    public static let subtypeSystem = "urn:medrec:audit-subtype"
    /// Local code system for our user roles (patient, doctor, billing, admin, system).
    public static let roleSystem = "urn:medrec:role"
    /// Identifier systems for the agent's `who.identifier`: our user ids and OAuth client ids.
    public static let userIdentifierSystem = "urn:medrec:user"
    public static let clientIdentifierSystem = "urn:medrec:client"
    /// The name the server audits itself under (source observer, server agent).
    public static let serverName = "medrec"

    /// A valid R4 AuditEvent for `record`.
    public static func build(_ record: AuditRecord) -> JSONValue {
        var event = JSONObject()
        event.append(key: "resourceType", value: .string("AuditEvent"))
        put("id", record.id, in: &event)
        let authentication = authenticationSubtypes[record.subtype]
        if let authentication {
            event.append(key: "type", value: coding(dicomSystem, "110114", "User Authentication"))
            var subtypes: [JSONValue] = [coding(dicomSystem, authentication.code, authentication.display)]
            if record.subtype != "login", record.subtype != "logout" {
                subtypes.append(coding(subtypeSystem, record.subtype, nil))
            }
            event.append(key: "subtype", value: .array(subtypes))
        } else {
            event.append(key: "type", value: coding(auditEventTypeSystem, "rest", "Restful Operation"))
            if restfulInteractions.contains(record.subtype) {
                event.append(key: "subtype", value: .array([coding(restfulInteractionSystem, record.subtype, record.subtype)]))
            } else if !record.subtype.isEmpty {
                event.append(key: "subtype", value: .array([coding(subtypeSystem, record.subtype, nil)]))
            }
        }
        event.append(key: "action", value: .string(record.action.rawValue))
        event.append(key: "recorded", value: .string(instant(record.recorded)))
        event.append(key: "outcome", value: .string(record.outcome.rawValue))
        put("outcomeDesc", record.outcomeDescription, in: &event)
        let purpose = nonEmpty(record.purposeOfUse) ?? (nonEmpty(record.breakGlassReason) == nil ? nil : "BTG")
        if let purpose {
            event.append(key: "purposeOfEvent", value: .array([.object(["coding": .array([actReason(purpose)])])]))
        }
        event.append(key: "agent", value: .array([requestor(record, purpose: purpose), server()]))
        event.append(key: "source", value: .object([
            "observer": .object(["display": .string(serverName)]),
            "type": .array([coding(securitySourceTypeSystem, "4", "Application Server")]),
        ]))
        let entities = self.entities(record)
        if !entities.isEmpty {
            event.append(key: "entity", value: .array(entities))
        }
        return .object(event)
    }

    private static func requestor(_ record: AuditRecord, purpose: String?) -> JSONValue {
        var agent = JSONObject()
        let type: JSONValue = if record.agentIsClient {
            coding(dicomSystem, "110150", "Application")
        } else {
            switch record.action {
            case .read, .execute: coding(participationTypeSystem, "IRCP", "information recipient")
            case .create, .update: coding(participationTypeSystem, "AUT", "author (originator)")
            case .delete: coding(roleClassSystem, "AGNT", "agent")
            }
        }
        agent.append(key: "type", value: .object(["coding": .array([type])]))
        if let role = nonEmpty(record.agentRole) {
            agent.append(key: "role", value: .array([.object([
                "coding": .array([coding(roleSystem, role, nil)]),
            ])]))
        }
        var who = JSONObject()
        if let userID = nonEmpty(record.agentUserID) {
            who.append(key: "identifier", value: .object([
                "system": .string(record.agentIsClient ? clientIdentifierSystem : userIdentifierSystem),
                "value": .string(userID),
            ]))
        }
        put("reference", record.agentFHIRUser, in: &who)
        if !who.isEmpty {
            agent.append(key: "who", value: .object(who))
        }
        agent.append(key: "requestor", value: .bool(true))
        if let address = nonEmpty(record.clientAddress) {
            agent.append(key: "network", value: .object(["address": .string(address), "type": .string("2")]))
        }
        if let purpose {
            var use = JSONObject()
            use.append(key: "coding", value: .array([actReason(purpose)]))
            put("text", record.breakGlassReason, in: &use)
            agent.append(key: "purposeOfUse", value: .array([.object(use)]))
        }
        return .object(agent)
    }

    private static func server() -> JSONValue {
        .object([
            "type": .object(["coding": .array([coding(dicomSystem, "110152", "Destination Role ID")])]),
            "who": .object(["display": .string(serverName)]),
            "requestor": .bool(false),
        ])
    }

    private static func entities(_ record: AuditRecord) -> [JSONValue] {
        var entities: [JSONValue] = []
        let type = nonEmpty(record.entityType)
        if let type, let id = nonEmpty(record.entityID) {
            var reference = "\(type)/\(id)"
            if let version = record.entityVersion { reference += "/_history/\(version)" }
            entities.append(.object([
                "what": .object(["reference": .string(reference)]),
                "type": coding(entityTypeSystem, "2", "System Object"),
                "role": coding(objectRoleSystem, "4", "Domain Resource"),
            ]))
        }
        if let query = nonEmpty(record.query) {
            var entity = JSONObject()
            entity.append(key: "type", value: coding(entityTypeSystem, "2", "System Object"))
            entity.append(key: "role", value: coding(objectRoleSystem, "24", "Query"))
            entity.append(key: "query", value: .string(Data(query.utf8).base64EncodedString()))
            if let type, nonEmpty(record.entityID) == nil {
                entity.append(key: "detail", value: .array([.object([
                    "type": .string("resourceType"), "valueString": .string(type),
                ])]))
            }
            entities.append(.object(entity))
        }
        var seen: Set<String> = []
        for patientID in record.patientIDs where !patientID.isEmpty && seen.insert(patientID).inserted {
            entities.append(.object([
                "what": .object(["reference": .string("Patient/\(patientID)")]),
                "type": coding(entityTypeSystem, "1", "Person"),
                "role": coding(objectRoleSystem, "1", "Patient"),
            ]))
        }
        if let requestID = nonEmpty(record.requestID) {
            entities.append(.object([
                "what": .object(["identifier": .object(["value": .string(requestID)])]),
                "type": coding(balpEntityTypeSystem, "XrequestId", "X-Request-Id"),
            ]))
        }
        return entities
    }

    /// `recorded` as an instant with milliseconds in UTC, e.g. 2024-05-01T10:20:30.123Z.
    /// Rounds to the nearest millisecond: formatting alone truncates, and a `Date` built from
    /// decimal seconds is often a hair below its millisecond (…30.123 stored as …30.12299).
    static func instant(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let (wholeSeconds, millisecond) = fraction < 0 ? (seconds - 1, fraction + 1000) : (seconds, fraction)
        let style = Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!)
        let text = style.format(Date(timeIntervalSince1970: TimeInterval(wholeSeconds)))
        let digits = String(millisecond)
        return text.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }

    private static func coding(_ system: String, _ code: String, _ display: String?) -> JSONValue {
        var coding = JSONObject()
        coding.append(key: "system", value: .string(system))
        coding.append(key: "code", value: .string(code))
        put("display", display, in: &coding)
        return .object(coding)
    }

    private static func actReason(_ code: String) -> JSONValue {
        coding(actReasonSystem, code, actReasonDisplays[code])
    }

    /// Adds `key` only for a non-empty string: FHIR forbids empty strings.
    private static func put(_ key: String, _ text: String?, in object: inout JSONObject) {
        guard let text = nonEmpty(text) else { return }
        object.append(key: key, value: .string(text))
    }

    private static func nonEmpty(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        return text
    }

    private static let auditEventTypeSystem = "http://terminology.hl7.org/CodeSystem/audit-event-type"
    private static let restfulInteractionSystem = "http://hl7.org/fhir/restful-interaction"
    private static let dicomSystem = "http://dicom.nema.org/resources/ontology/DCM"
    private static let actReasonSystem = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
    private static let participationTypeSystem = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
    private static let roleClassSystem = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
    private static let securitySourceTypeSystem = "http://terminology.hl7.org/CodeSystem/security-source-type"
    private static let entityTypeSystem = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
    private static let objectRoleSystem = "http://terminology.hl7.org/CodeSystem/object-role"
    /// IHE BALP's entity types (`XrequestId`: the HTTP request's X-Request-Id).
    static let balpEntityTypeSystem = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"

    /// R4 restful-interaction codes (their displays equal the codes).
    private static let restfulInteractions: Set<String> = [
        "read", "vread", "update", "patch", "delete", "history", "history-instance", "history-type",
        "history-system", "create", "search", "search-type", "search-system", "capabilities",
        "transaction", "batch", "operation",
    ]

    private static let authenticationSubtypes: [String: (code: String, display: String)] = [
        "login": ("110122", "Login"),
        "login-failed": ("110122", "Login"),
        "token": ("110122", "Login"),
        "refresh": ("110122", "Login"),
        "logout": ("110123", "Logout"),
    ]

    private static let actReasonDisplays: [String: String] = [
        "TREAT": "treatment",
        "ETREAT": "Emergency Treatment",
        "BTG": "break the glass",
        "HOPERAT": "healthcare operations",
        "PATADMIN": "patient administration",
        "HPAYMT": "healthcare payment",
        "PATRQT": "patient requested",
        "PUBHLTH": "public health",
        "HRESCH": "healthcare research",
        "SYSADMN": "system administration",
    ]
}
