import FHIRModels
import Foundation

/// The server's CapabilityStatement: exactly the interactions this build implements.
enum CapabilityStatementBuilder {
    /// The parameters the search engine supports for `type`: every R4 parameter whose kind it
    /// indexes (not composite or special) and whose expression the FHIRPath subset compiles, plus
    /// `_id` and `_lastUpdated`, which it reads from the resource row.
    static func supportedSearchParameters(for type: String) -> [SearchParameterDefinition] {
        let skipped = Set(SearchIndexExtractor.skippedParameters(for: type).map(\.code))
        var seen = Set<String>()
        return SearchParameterDefinitions.parameters(for: type).filter { definition in
            guard seen.insert(definition.code).inserted else { return false }
            if definition.code == "_id" || definition.code == "_lastUpdated" { return true }
            switch definition.kind {
            case .composite, .special: return false
            default: return definition.expression != nil && !skipped.contains(definition.code)
            }
        }
    }

    static func includes(for type: String) -> [JSONValue] {
        var result: [JSONValue] = []
        for definition in supportedSearchParameters(for: type) where definition.kind == .reference {
            result.append(.string(type + ":" + definition.code))
        }
        return result
    }

    /// Email and phone, where sealed, are searched through the blind index and described so.
    static func searchParams(for type: String, sealedContact: [JSONValue]) -> [JSONValue] {
        var result: [JSONValue] = []
        for definition in supportedSearchParameters(for: type) {
            if !sealedContact.isEmpty, definition.code == "email" || definition.code == "phone" { continue }
            let entry: JSONObject = ["name": .string(definition.code), "type": .string(definition.kind.rawValue)]
            result.append(.object(entry))
        }
        return result + sealedContact
    }

    static func build(base: String, software version: String) -> JSONValue {
        let typeInteractions: [JSONValue] = [
            "read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type",
        ].map { .object(["code": .string($0)]) }
        let contactSearch: [JSONValue] = [
            .object(["name": .string("email"), "type": .string("token"),
                     "documentation": .string("Exact match only: the element is sealed and searched through a blind index.")]),
            .object(["name": .string("phone"), "type": .string("token"),
                     "documentation": .string("Exact match only: the element is sealed and searched through a blind index.")]),
        ]
        let contactTypes: Set<String> = ["Patient", "Practitioner", "RelatedPerson", "Person"]
        let resources: [JSONValue] = FHIRMetadata.resourceTypeNames.map { type in
            var entry: JSONObject = [
                "type": .string(type),
                "interaction": .array(typeInteractions),
                "versioning": .string("versioned-update"),
                "readHistory": .bool(true),
                "updateCreate": .bool(true),
                "conditionalCreate": .bool(true),
                "conditionalUpdate": .bool(true),
                "conditionalDelete": .string("single"),
            ]
            // FHIR JSON has no empty arrays.
            let include = includes(for: type)
            if !include.isEmpty { entry["searchInclude"] = .array(include) }
            let params = searchParams(for: type, sealedContact: contactTypes.contains(type) ? contactSearch : [])
            if !params.isEmpty { entry["searchParam"] = .array(params) }
            return .object(entry)
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
            "interaction": .array(["transaction", "batch", "history-system", "search-system"].map { .object(["code": .string($0)]) }),
            "searchParam": .array([
                .object(["name": .string("_id"), "type": .string("token")]),
                .object(["name": .string("_lastUpdated"), "type": .string("date")]),
                .object(["name": .string("_type"), "type": .string("token")]),
            ]),
            "operation": .array([
                .object([
                    "name": .string("everything"),
                    "definition": .string("http://hl7.org/fhir/OperationDefinition/Patient-everything"),
                ]),
                // Bulk Data Access v2: system, Patient and Group level (docs/fhir.md, "Bulk data").
                .object([
                    "name": .string("export"),
                    "definition": .string("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"),
                ]),
                .object([
                    "name": .string("patient-export"),
                    "definition": .string("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"),
                ]),
                .object([
                    "name": .string("group-export"),
                    "definition": .string("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"),
                ]),
                // The Bulk Data Import proposal (NDJSON inputs by URL, or posted).
                .object([
                    "name": .string("import"),
                    "definition": .string("http://hl7.org/fhir/uv/bulkdata/OperationDefinition/import"),
                ]),
            ]),
        ])
        return .object([
            "resourceType": .string("CapabilityStatement"),
            "instantiates": .array([.string("http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data")]),
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
