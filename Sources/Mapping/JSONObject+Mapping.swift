import FHIRModels

/// Small accessors for reading and editing FHIR JSON in place. FHIR forbids empty strings,
/// arrays and objects, so the setters remove a member instead of writing an empty one.
extension JSONObject {
    func string(_ key: String) -> String? {
        self[key]?.stringValue
    }

    func object(_ key: String) -> JSONObject? {
        self[key]?.objectValue
    }

    /// The elements of an array member; empty when absent or not an array.
    func array(_ key: String) -> [JSONValue] {
        self[key]?.arrayValue ?? []
    }

    /// Sets or removes a primitive. A `_key` sibling (the primitive's id and extensions) stays.
    mutating func setString(_ key: String, _ value: String?) {
        self[key] = value.map(JSONValue.string)
    }

    mutating func setArray(_ key: String, _ elements: [JSONValue]) {
        self[key] = elements.isEmpty ? nil : .array(elements)
    }

    mutating func setObject(_ key: String, _ object: JSONObject?) {
        if let object, !object.isEmpty {
            self[key] = .object(object)
        } else {
            self[key] = nil
        }
    }

    /// The stored resource to merge over, when `existing` is a resource of `resourceType`.
    static func mergeBase(_ existing: JSONValue?, resourceType: String) -> JSONObject? {
        guard let object = existing?.objectValue, object.string("resourceType") == resourceType else { return nil }
        return object
    }
}

extension JSONValue {
    /// The words of a CodeableConcept: its `text`, else its first coding's `display`.
    var conceptText: String? {
        self["text"]?.stringValue ?? self["coding"]?.arrayValue?.first?["display"]?.stringValue
    }
}
