import FHIRModels
import Foundation
import Testing
@testable import Server

@Suite("BALP AuditEvents")
struct AuditEventBuilderTests {
    static let recorded = Date(timeIntervalSince1970: 1_714_558_830.123)

    static let records: [(name: String, record: AuditRecord)] = [
        ("read", AuditRecord(
            recorded: recorded, action: .read, subtype: "read", agentUserID: "u-17", agentRole: "doctor",
            agentFHIRUser: "Practitioner/9", clientAddress: "10.0.0.7", purposeOfUse: "TREAT",
            entityType: "Observation", entityID: "o1", entityVersion: 3, patientIDs: ["p1"])),
        ("search", AuditRecord(
            recorded: recorded, action: .execute, subtype: "search-type", agentUserID: "u-3", agentRole: "patient",
            agentFHIRUser: "Patient/p1", clientAddress: "2001:db8::1", entityType: "Observation",
            patientIDs: ["p1"], query: "patient=p1&code=http://loinc.org|8867-4")),
        ("create", AuditRecord(
            recorded: recorded, action: .create, subtype: "create", agentUserID: "u-17", agentRole: "doctor",
            agentFHIRUser: "Practitioner/9", entityType: "Condition", entityID: "c1", entityVersion: 1,
            patientIDs: ["p1"])),
        ("login", AuditRecord(
            recorded: recorded, action: .execute, subtype: "login", agentUserID: "u-17", agentRole: "doctor",
            clientAddress: "10.0.0.7")),
        ("logout", AuditRecord(
            recorded: recorded, action: .execute, subtype: "logout", agentUserID: "u-17", agentRole: "doctor")),
        ("login-failed", AuditRecord(
            recorded: recorded, action: .execute, subtype: "login-failed", outcome: .minorFailure,
            outcomeDescription: "invalid credentials", clientAddress: "10.0.0.8")),
        ("denied", AuditRecord(
            recorded: recorded, action: .read, subtype: "read", outcome: .minorFailure, outcomeDescription: "denied",
            agentUserID: "u-20", agentRole: "billing", entityType: "Observation", entityID: "o1", patientIDs: ["p1"])),
        ("break-glass", AuditRecord(
            recorded: recorded, action: .read, subtype: "read", agentUserID: "u-17", agentRole: "doctor",
            agentFHIRUser: "Practitioner/9", clientAddress: "10.0.0.7", breakGlassReason: "unconscious in ER",
            entityType: "Patient", entityID: "p2", patientIDs: ["p2"])),
        ("system client", AuditRecord(
            recorded: recorded, action: .execute, subtype: "operation", agentUserID: "export-client",
            agentRole: "system", agentIsClient: true, purposeOfUse: "HOPERAT", patientIDs: ["p1", "p2", "p1"])),
        ("request id", AuditRecord(
            recorded: recorded, action: .read, subtype: "read", agentUserID: "u-17", agentRole: "doctor",
            entityType: "Observation", entityID: "o1", entityVersion: 3, patientIDs: ["p1"], requestID: "haproxy-5f1c.42")),
    ]

    static func emptyStrings(in value: JSONValue, path: String = "") -> [String] {
        switch value {
        case .string(let text): text.isEmpty ? [path] : []
        case .array(let items): items.enumerated().flatMap { emptyStrings(in: $1, path: "\(path)[\($0)]") }
        case .object(let object): object.flatMap { emptyStrings(in: $1, path: "\(path).\($0)") }
        default: []
        }
    }

    static func codes(_ value: JSONValue?) -> [String] {
        (value?.arrayValue ?? value.map { [$0] } ?? []).compactMap { coding in
            guard let system = coding["system"]?.stringValue, let code = coding["code"]?.stringValue else { return nil }
            return "\(system)#\(code)"
        }
    }

    static func patientEntities(_ event: JSONValue) -> [String] {
        (event["entity"]?.arrayValue ?? []).filter {
            codes($0["role"]) == ["http://terminology.hl7.org/CodeSystem/object-role#1"]
                && codes($0["type"]) == ["http://terminology.hl7.org/CodeSystem/audit-entity-type#1"]
        }.compactMap { $0["what"]?["reference"]?.stringValue }
    }

    @Test(arguments: records.map(\.name))
    func eachRecordBuildsAValidAuditEvent(name: String) throws {
        let record = try #require(Self.records.first { $0.name == name }?.record)
        let event = AuditEventBuilder.build(record)
        let issues = FHIRValidator().validate(event)
        #expect(!issues.hasErrors, "\(issues)")
        #expect(event["resourceType"] == "AuditEvent")
        #expect(event["id"]?.stringValue == record.id)
        #expect(Self.emptyStrings(in: event).isEmpty)
        #expect(event["recorded"] == "2024-05-01T10:20:30.123Z")
        #expect(event["action"]?.stringValue == record.action.rawValue)
        #expect(event["outcome"]?.stringValue == record.outcome.rawValue)
        #expect(event["source"]?["observer"]?["display"] == "medrec")
        #expect(Self.codes(event["source"]?["type"]) == ["http://terminology.hl7.org/CodeSystem/security-source-type#4"])
        let agents = try #require(event["agent"]?.arrayValue)
        let requestors = agents.filter { $0["requestor"]?.boolValue == true }
        #expect(requestors.count == 1)
        if let userID = record.agentUserID {
            #expect(requestors.first?["who"]?["identifier"]?["value"]?.stringValue == userID)
        }
        #expect(requestors.first?["who"]?["reference"]?.stringValue == record.agentFHIRUser)
        var expectedPatients: [String] = []
        for id in record.patientIDs where !expectedPatients.contains("Patient/\(id)") {
            expectedPatients.append("Patient/\(id)")
        }
        #expect(Self.patientEntities(event) == expectedPatients)
    }

    /// The validity checks above mean something only if the validator rejects a broken event.
    @Test func validatorRejectsAnEventMissingRequiredParts() throws {
        var event = try #require(AuditEventBuilder.build(Self.records[0].record).objectValue)
        event["source"] = nil
        event["recorded"] = "yesterday"
        #expect(FHIRValidator().validate(.object(event)).hasErrors)
    }

    @Test func recordedIsAnInstantWithMillisecondsInUTC() throws {
        let event = AuditEventBuilder.build(AuditRecord(action: .read, subtype: "read"))
        let recorded = try #require(event["recorded"]?.stringValue)
        #expect(recorded.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil, "\(recorded)")
        #expect(AuditEventBuilder.instant(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(AuditEventBuilder.instant(Date(timeIntervalSince1970: 59.9996)) == "1970-01-01T00:01:00.000Z")
        #expect(AuditEventBuilder.instant(Date(timeIntervalSince1970: -0.25)) == "1969-12-31T23:59:59.750Z")
    }

    @Test func readIsARestfulOperationOnAVersionedResource() {
        let event = AuditEventBuilder.build(Self.records[0].record)
        #expect(Self.codes(event["type"]) == ["http://terminology.hl7.org/CodeSystem/audit-event-type#rest"])
        #expect(event["type"]?["display"] == "Restful Operation")
        #expect(Self.codes(event["subtype"]) == ["http://hl7.org/fhir/restful-interaction#read"])
        #expect(Self.codes(event["purposeOfEvent"]?.arrayValue?.first?["coding"])
            == ["http://terminology.hl7.org/CodeSystem/v3-ActReason#TREAT"])
        let entities = event["entity"]?.arrayValue ?? []
        let resource = entities.first { Self.codes($0["role"]) == ["http://terminology.hl7.org/CodeSystem/object-role#4"] }
        #expect(resource?["what"]?["reference"] == "Observation/o1/_history/3")
        #expect(Self.codes(resource?["type"]) == ["http://terminology.hl7.org/CodeSystem/audit-entity-type#2"])
        let requestor = event["agent"]?.arrayValue?.first { $0["requestor"]?.boolValue == true }
        #expect(requestor?["network"]?["address"] == "10.0.0.7")
        #expect(requestor?["network"]?["type"] == "2")
        #expect(Self.codes(requestor?["role"]?.arrayValue?.first?["coding"]) == ["\(AuditEventBuilder.roleSystem)#doctor"])
    }

    @Test func searchCarriesItsQueryInBase64() throws {
        let event = AuditEventBuilder.build(Self.records[1].record)
        #expect(Self.codes(event["subtype"]) == ["http://hl7.org/fhir/restful-interaction#search-type"])
        let query = try #require(event["entity"]?.arrayValue?.first {
            Self.codes($0["role"]) == ["http://terminology.hl7.org/CodeSystem/object-role#24"]
        })
        let decoded = try #require(query["query"]?.stringValue.flatMap { Data(base64Encoded: $0) })
        #expect(String(decoding: decoded, as: UTF8.self) == "patient=p1&code=http://loinc.org|8867-4")
        #expect(query["detail"]?.arrayValue?.first?["valueString"] == "Observation")
    }

    @Test func loginAndLogoutAreUserAuthentication() {
        let login = AuditEventBuilder.build(Self.records[3].record)
        #expect(Self.codes(login["type"]) == ["http://dicom.nema.org/resources/ontology/DCM#110114"])
        #expect(login["type"]?["display"] == "User Authentication")
        #expect(Self.codes(login["subtype"]) == ["http://dicom.nema.org/resources/ontology/DCM#110122"])
        #expect(login["entity"] == nil)
        let logout = AuditEventBuilder.build(Self.records[4].record)
        #expect(Self.codes(logout["subtype"]) == ["http://dicom.nema.org/resources/ontology/DCM#110123"])
        let failed = AuditEventBuilder.build(Self.records[5].record)
        #expect(Self.codes(failed["subtype"]) == [
            "http://dicom.nema.org/resources/ontology/DCM#110122", "\(AuditEventBuilder.subtypeSystem)#login-failed",
        ])
        #expect(failed["outcome"] == "4")
        #expect(failed["outcomeDesc"] == "invalid credentials")
        #expect(failed["agent"]?.arrayValue?.first?["who"] == nil, "no user is known for a failed login")
    }

    @Test func deniedReadRecordsTheFailureAndThePatient() {
        let event = AuditEventBuilder.build(Self.records[6].record)
        #expect(event["outcome"] == "4")
        #expect(event["outcomeDesc"] == "denied")
        #expect(Self.patientEntities(event) == ["Patient/p1"])
    }

    @Test func breakGlassCarriesTheReasonOnTheAgentsPurposeOfUse() throws {
        let event = AuditEventBuilder.build(Self.records[7].record)
        let btg = "http://terminology.hl7.org/CodeSystem/v3-ActReason#BTG"
        #expect(Self.codes(event["purposeOfEvent"]?.arrayValue?.first?["coding"]) == [btg])
        let requestor = try #require(event["agent"]?.arrayValue?.first { $0["requestor"]?.boolValue == true })
        let use = try #require(requestor["purposeOfUse"]?.arrayValue?.first)
        #expect(Self.codes(use["coding"]) == [btg])
        #expect(use["text"] == "unconscious in ER")
        #expect(Self.patientEntities(event) == ["Patient/p2"])
    }

    @Test func systemClientIsAnApplicationAgent() throws {
        let event = AuditEventBuilder.build(Self.records[8].record)
        let requestor = try #require(event["agent"]?.arrayValue?.first { $0["requestor"]?.boolValue == true })
        #expect(Self.codes(requestor["type"]?["coding"]) == ["http://dicom.nema.org/resources/ontology/DCM#110150"])
        #expect(requestor["who"]?["identifier"]?["system"]?.stringValue == AuditEventBuilder.clientIdentifierSystem)
        #expect(Self.patientEntities(event) == ["Patient/p1", "Patient/p2"])
    }

    @Test func theRequestIDIsABALPRequestEntity() throws {
        let event = AuditEventBuilder.build(Self.records[9].record)
        let entity = try #require(event["entity"]?.arrayValue?.first {
            Self.codes($0["type"]) == ["\(AuditEventBuilder.balpEntityTypeSystem)#XrequestId"]
        })
        #expect(entity["what"]?["identifier"]?["value"] == "haproxy-5f1c.42")
        #expect(entity["role"] == nil)
        #expect(Self.patientEntities(event) == ["Patient/p1"])
        // Outside a request (these records are built in no request's task) there is none.
        #expect(!(AuditEventBuilder.build(Self.records[0].record)["entity"]?.arrayValue ?? []).contains {
            Self.codes($0["type"]) == ["\(AuditEventBuilder.balpEntityTypeSystem)#XrequestId"]
        })
    }

    @Test func emptyFieldsAreLeftOut() {
        let record = AuditRecord(
            action: .read, subtype: "read", outcomeDescription: "", agentUserID: "", agentRole: "", agentFHIRUser: "",
            clientAddress: "", purposeOfUse: "", breakGlassReason: "", entityType: "", entityID: "", patientIDs: [""],
            query: "")
        let event = AuditEventBuilder.build(record)
        #expect(Self.emptyStrings(in: event).isEmpty)
        #expect(!FHIRValidator().validate(event).hasErrors)
        #expect(event["entity"] == nil)
        #expect(event["purposeOfEvent"] == nil)
    }
}
