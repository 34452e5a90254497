import FHIRModels
import Foundation

/// The server's CapabilityStatement: exactly the interactions this build implements.
enum CapabilityStatementBuilder {
    static func build(base: String, software version: String) -> JSONValue {
        let typeInteractions: [JSONValue] = [
            "read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type",
        ].map { .object(["code": .string($0)]) }
        let searchParams: [JSONValue] = [
            .object(["name": .string("_id"), "type": .string("token")]),
            .object(["name": .string("identifier"), "type": .string("token")]),
        ]
        let contactSearch: [JSONValue] = [
            .object(["name": .string("email"), "type": .string("token")]),
            .object(["name": .string("phone"), "type": .string("token")]),
        ]
        let contactTypes: Set<String> = ["Patient", "Practitioner", "RelatedPerson", "Person"]
        let compartmentSearch: [JSONValue] = [
            .object(["name": .string("patient"), "type": .string("reference")]),
            .object(["name": .string("subject"), "type": .string("reference")]),
        ]
        let resources: [JSONValue] = FHIRMetadata.resourceTypeNames.map { type in
            .object([
                "type": .string(type),
                "interaction": .array(typeInteractions),
                "versioning": .string("versioned-update"),
                "readHistory": .bool(true),
                "updateCreate": .bool(true),
                "conditionalCreate": .bool(true),
                "conditionalUpdate": .bool(true),
                "conditionalDelete": .string("single"),
                "searchParam": .array(
                    searchParams + (contactTypes.contains(type) ? contactSearch : [])
                        + (PatientCompartment.resourceTypes.contains(type) && type != "Patient" ? compartmentSearch : [])),
            ])
        }
        // SMART on FHIR: bearer tokens from our own token endpoint (RFC 6749 client credentials
        // for systems; /auth/login for people), described at /.well-known/smart-configuration.
        let origin = base.hasSuffix("/fhir") ? String(base.dropLast(5)) : base
        let security: JSONValue = .object([
            "extension": .array([.object([
                "url": .string("http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"),
                "extension": .array([.object(["url": .string("token"), "valueUri": .string("\(origin)/auth/token")])]),
            ])]),
            "cors": .bool(false),
            "service": .array([.object(["coding": .array([.object([
                "system": .string("http://terminology.hl7.org/CodeSystem/restful-security-service"),
                "code": .string("SMART-on-FHIR"),
            ])])])]),
            "description": .string(
                "Bearer access tokens (JWT, EdDSA) required on every interaction but metadata. Access is role ∩ SMART v2 scopes ∩ patient compartment/care relationship; denied reads answer 404. Every access is recorded as an AuditEvent."),
        ])
        let rest: JSONValue = .object([
            "mode": .string("server"),
            "security": security,
            "resource": .array(resources),
            "interaction": .array(["transaction", "batch", "history-system"].map { .object(["code": .string($0)]) }),
        ])
        return .object([
            "resourceType": .string("CapabilityStatement"),
            "status": .string("active"),
            "date": .string(String(StoreTimestamp.string(Date()).prefix(10))),
            "kind": .string("instance"),
            "software": .object(["name": .string("medical-records"), "version": .string(version)]),
            "implementation": .object(["description": .string("medical-records FHIR R4 server"), "url": .string(base)]),
            "fhirVersion": .string("4.0.1"),
            "format": .array([.string("application/fhir+json"), .string("application/fhir+xml")]),
            "patchFormat": .array([.string("application/json-patch+json")]),
            "rest": .array([rest]),
        ])
    }
}
