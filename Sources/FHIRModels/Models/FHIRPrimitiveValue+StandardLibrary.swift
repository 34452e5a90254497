/// FHIR string-like primitives (string, code, id, markdown, uri, url, canonical, oid, uuid,
/// base64Binary, xhtml) are JSON strings, kept exactly as written.
extension String: FHIRPrimitiveValue {
    public init(fhirJSON json: JSONValue) throws(FHIRFormatError) {
        guard case .string(let string) = json else {
            throw FHIRFormatError(.wrongType, "Expected a JSON string")
        }
        self = string
    }

    public var fhirJSON: JSONValue { .string(self) }
}

/// FHIR `boolean`.
extension Bool: FHIRPrimitiveValue {
    public init(fhirJSON json: JSONValue) throws(FHIRFormatError) {
        guard case .bool(let bool) = json else {
            throw FHIRFormatError(.wrongType, "Expected a JSON boolean")
        }
        self = bool
    }

    public var fhirJSON: JSONValue { .bool(self) }
}

/// FHIR `integer`, `positiveInt` and `unsignedInt`, all 32-bit signed in R4.
/// Only the canonical lexical form is accepted (no `1.0`, `+1`, `01` or exponent), so a
/// decoded value writes back exactly as it was read.
extension Int32: FHIRPrimitiveValue {
    public init(fhirJSON json: JSONValue) throws(FHIRFormatError) {
        guard case .number(let lexical) = json else {
            throw FHIRFormatError(.wrongType, "Expected a JSON number")
        }
        guard let integer = Int32(lexical), String(integer) == lexical else {
            throw FHIRFormatError(.wrongType, "Expected a 32-bit integer")
        }
        self = integer
    }

    public var fhirJSON: JSONValue { .number(String(self)) }
}
