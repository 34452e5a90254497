import FHIRModels

/// JSON Schemas (2020-12, as OpenAPI 3.1 uses them) for every FHIR R4 type, derived from the
/// element metadata of the official StructureDefinitions. See `FHIROpenAPI` for the choices made.
enum FHIRSchemas {
    /// The `regex` extension of each primitive type's `value` element in the R4 StructureDefinitions
    /// (profiles-types.json), anchored. `FHIROpenAPITests` checks this table against that file.
    /// `xhtml`, `boolean`, `integer` and `decimal` have none that applies to their JSON form.
    static let primitivePatterns: [String: String] = [
        "base64Binary": #"(\s*([0-9a-zA-Z\+/=]){4}\s*)+"#,
        "canonical": #"\S*"#,
        "code": #"[^\s]+(\s[^\s]+)*"#,
        "date": #"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?"#,
        "dateTime": #"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?"#,
        "id": #"[A-Za-z0-9\-\.]{1,64}"#,
        "instant": #"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"#,
        "markdown": #"[ \r\n\t\S]+"#,
        "oid": #"urn:oid:[0-2](\.(0|[1-9][0-9]*))+"#,
        "positiveInt": #"[1-9][0-9]*"#,
        "string": #"[ \r\n\t\S]+"#,
        "time": #"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"#,
        "unsignedInt": #"[0]|([1-9][0-9]*)"#,
        "uri": #"\S*"#,
        "url": #"\S*"#,
        "uuid": #"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"#,
    ]

    /// The schema of a primitive's JSON value; nil for a type that is not primitive.
    static func primitiveSchema(_ type: String) -> JSONValue? {
        switch FHIRMetadata.primitiveJSONKind(of: type) {
        case nil: return nil
        case .boolean: return ["type": "boolean"]
        case .decimal: return ["type": "number"]
        case .integer:
            // FHIR integers are 32-bit.
            let minimum = type == "positiveInt" ? 1 : type == "unsignedInt" ? 0 : -2_147_483_648
            return ["type": "integer", "minimum": .number(String(minimum)), "maximum": 2_147_483_647]
        case .string:
            var schema: JSONObject = ["type": "string"]
            if let pattern = primitivePatterns[type] { schema["pattern"] = .string("^(" + pattern + ")$") }
            return .object(schema)
        }
    }

    /// Every schema: primitives by type code, complex types, backbone elements (`Patient.contact`)
    /// and concrete resources by name, plus `AnyResource`, `JSONPatch` and `BulkManifest`.
    static func all() -> JSONObject {
        var schemas = JSONObject(reservingCapacity: 1_200)
        for type in FHIRMetadata.allTypes {
            switch type.kind {
            case .primitive:
                if let schema = primitiveSchema(type.name) { schemas.append(key: type.name, value: schema) }
            case .resource:
                // Resource and DomainResource are never instantiated: `AnyResource` stands for them.
                if !type.isAbstract { schemas.append(key: type.name, value: objectSchema(type)) }
            case .complex, .backbone:
                schemas.append(key: type.name, value: objectSchema(type))
            }
        }
        schemas.append(key: "AnyResource", value: [
            "type": "object", "required": ["resourceType"],
            "description": "Any resource; the server checks it against its own type",
            "properties": ["resourceType": .object(["type": "string", "enum": .array(FHIRMetadata.resourceTypeNames.map { .string($0) })])],
        ])
        schemas.append(key: "JSONPatch", value: [
            "type": "array", "description": "RFC 6902 JSON Patch",
            "items": [
                "type": "object", "required": ["op", "path"],
                "properties": [
                    "op": ["type": "string", "enum": ["add", "remove", "replace", "move", "copy", "test"]],
                    "path": ["type": "string"], "from": ["type": "string"], "value": [:],
                ],
            ],
        ])
        schemas.append(key: "BulkManifest", value: [
            "type": "object", "required": ["transactionTime", "request", "requiresAccessToken", "output", "error"],
            "description": "The Bulk Data manifest of a finished job",
            "properties": [
                "transactionTime": ["type": "string"], "request": ["type": "string"],
                "requiresAccessToken": ["type": "boolean"],
                "output": ["type": "array", "items": .object(["type": "object"])],
                "error": ["type": "array", "items": .object(["type": "object"])],
            ],
        ])
        return schemas
    }

    /// An object schema for a complex, backbone or resource type.
    static func objectSchema(_ type: TypeInfo) -> JSONValue {
        var properties = JSONObject(reservingCapacity: type.elements.count * 2 + 1)
        var required: [JSONValue] = []
        if type.kind == .resource {
            properties.append(key: "resourceType", value: ["type": "string", "const": .string(type.name)])
            required.append("resourceType")
        }
        for element in type.elements {
            for code in element.types {
                let name = element.isChoice ? FHIRMetadata.choiceName(element.name, code) : element.name
                let isPrimitive = FHIRMetadata.primitiveJSONKind(of: code) != nil
                properties.append(key: name, value: valueSchema(code, isArray: element.isArray))
                if isPrimitive, element.representation == .element {
                    // `_name`: the primitive's id and extensions; null holds a place in a repeating one.
                    let sibling: JSONValue = element.isArray
                        ? ["type": "array", "items": ["anyOf": [schemaRef("Element"), ["type": "null"]]]]
                        : schemaRef("Element")
                    properties.append(key: "_" + name, value: sibling)
                }
            }
            if element.min > 0, !element.isChoice, let only = element.types.first,
               FHIRMetadata.primitiveJSONKind(of: only) == nil {
                required.append(.string(element.name))
            }
        }
        var schema: JSONObject = ["type": "object"]
        if !required.isEmpty { schema["required"] = .array(required) }
        schema["properties"] = .object(properties)
        schema["additionalProperties"] = false
        return .object(schema)
    }

    static func valueSchema(_ code: String, isArray: Bool) -> JSONValue {
        let single: JSONValue
        switch code {
        case "Resource": single = schemaRef("AnyResource")
        case "xhtml": single = ["type": "string"]
        default: single = schemaRef(code)
        }
        return isArray ? ["type": "array", "minItems": 1, "items": single] : single
    }

    static func schemaRef(_ name: String) -> JSONValue {
        ["$ref": .string("#/components/schemas/\(name)")]
    }
}
