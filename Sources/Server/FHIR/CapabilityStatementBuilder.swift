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
                "searchParam": .array(searchParams + (contactTypes.contains(type) ? contactSearch : [])),
            ])
        }
        let rest: JSONValue = .object([
            "mode": .string("server"),
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
