extension FHIRPrimitive {
    /// Reads a primitive from its value member (`"x"`) and its element member (`"_x"`);
    /// either may be absent, not both. Errors carry expressions relative to the element.
    init(json: JSONValue?, elementJSON: JSONValue?) throws(FHIRFormatError) {
        if let json {
            switch json {
            case .null:
                throw FHIRFormatError(.forbiddenNull, "A single value may not be null")
            case .array:
                throw FHIRFormatError(.wrongType, "Expected a single value, not an array")
            case .object:
                throw FHIRFormatError(.wrongType, "Expected a primitive value, not an object")
            default:
                value = try Value(fhirJSON: json)
            }
        } else {
            value = nil
        }
        if let elementJSON {
            guard case .object(let object) = elementJSON else {
                if case .null = elementJSON {
                    throw FHIRFormatError(.forbiddenNull, "A single value may not be null")
                }
                throw FHIRFormatError(.wrongType, "Expected a JSON object for the primitive's id and extensions")
            }
            var reader = FHIRJSONObjectReader(object)
            id = try reader.string("id")
            `extension` = try reader.elements("extension")
            try reader.finish()
        } else {
            id = nil
            `extension` = []
        }
    }

    /// The `_x` object, or `nil` when there is no id and no extension.
    var elementJSON: JSONValue? {
        guard hasElementContent else { return nil }
        var writer = FHIRJSONObjectWriter(capacity: 2)
        writer.string("id", id)
        writer.elements("extension", `extension`)
        return .object(writer.object)
    }
}
