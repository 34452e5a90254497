import FHIRModels

/// A `Reference` element as the platform reads and writes it. The platform's ids of other
/// records are FHIR ids; on the FHIR side they are relative references `Type/id`, the only form
/// the store writes. Anything else (absolute or versioned URLs, `urn:uuid:`, conditional or
/// logical references) is not a local record and reads as absent. Parsing is FHIRModels'
/// `ResourceReference`, the one reference parser.
enum ReferenceField {
    static func id(of reference: JSONValue?, type: String) -> String? {
        guard let text = reference?["reference"]?.stringValue else { return nil }
        let parsed = ResourceReference(text)
        guard !parsed.isAbsolute, parsed.version == nil else { return nil }
        return parsed.id(ofType: type)
    }

    static func make(type: String, id: String) -> JSONValue {
        ["reference": .string(ResourceReference.literal(type: type, id: id))]
    }

    /// Sets the reference of `element`, dropping a `display` that would now describe another record.
    static func retarget(_ element: JSONValue?, type: String, id: String) -> JSONValue {
        var object = element?.objectValue ?? JSONObject()
        for key in ["reference", "display", "identifier", "type", "_reference", "_display"] {
            object[key] = nil
        }
        object["reference"] = .string(ResourceReference.literal(type: type, id: id))
        return .object(object)
    }
}
