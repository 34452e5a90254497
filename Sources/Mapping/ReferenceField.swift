import FHIRModels

/// The platform's ids of other records are FHIR ids; on the FHIR side they are relative
/// references `Type/id`, the only form the store writes. Anything else (absolute URLs,
/// `urn:uuid:`, conditional or logical references) is not a local record and reads as absent.
///
/// Named apart from the Server module's public `FHIRReference` (full reference parsing), so the
/// two never clash where both modules are imported; Mapping needs only this narrow reading.
enum ReferenceField {
    static func id(of reference: JSONValue?, type: String) -> String? {
        guard let text = reference?["reference"]?.stringValue, text.hasPrefix(type + "/") else { return nil }
        let id = String(text.dropFirst(type.count + 1))
        return PlatformFormat.isFHIRID(id) ? id : nil
    }

    static func make(type: String, id: String) -> JSONValue {
        ["reference": .string("\(type)/\(id)")]
    }

    /// Sets the reference of `element`, dropping a `display` that would now describe another record.
    static func retarget(_ element: JSONValue?, type: String, id: String) -> JSONValue {
        var object = element?.objectValue ?? JSONObject()
        for key in ["reference", "display", "identifier", "type", "_reference", "_display"] {
            object[key] = nil
        }
        object["reference"] = .string("\(type)/\(id)")
        return .object(object)
    }
}
