import FHIRModels

/// Reads and edits the `extension` list of a FHIR element by URL. Edits touch only the
/// extensions of the given URL; all others stay where they are.
enum FHIRExtensionList {
    static func all(in element: JSONObject, url: String) -> [JSONObject] {
        element.array("extension").compactMap(\.objectValue).filter { $0.string("url") == url }
    }

    static func first(in element: JSONObject, url: String) -> JSONObject? {
        all(in: element, url: url).first
    }

    /// The `value[x]` of the first extension with `url`, read from member `valueKey` (`valueString`).
    static func value(in element: JSONObject, url: String, as valueKey: String) -> JSONValue? {
        first(in: element, url: url)?[valueKey]
    }

    /// Replaces the first extension with `url` by `change(old)` (nil: absent before / remove now).
    /// A new extension is appended.
    static func updateFirst(in element: inout JSONObject, url: String, _ change: (JSONObject?) -> JSONObject?) {
        var list = element.array("extension")
        if let index = list.firstIndex(where: { $0["url"]?.stringValue == url }) {
            if let updated = change(list[index].objectValue), hasContent(updated) {
                list[index] = .object(updated)
            } else {
                list.remove(at: index)
            }
        } else if let created = change(nil), hasContent(created) {
            list.append(.object(created))
        }
        element.setArray("extension", list)
    }

    /// Sets the value of a simple extension, keeping its `id`; nil removes the extension.
    static func setValue(in element: inout JSONObject, url: String, key valueKey: String, _ value: JSONValue?) {
        updateFirst(in: &element, url: url) { existing in
            guard let value else { return nil }
            var updated = existing ?? ["url": .string(url)]
            removeValues(from: &updated)
            updated[valueKey] = value
            return updated
        }
    }

    /// A value extension: `{url, valueX}`.
    static func make(url: String, key valueKey: String, _ value: JSONValue) -> JSONValue {
        ["url": .string(url), valueKey: value]
    }

    /// Drops every `value[x]` of an extension, before it gets a value of another type.
    static func removeValues(from extensionObject: inout JSONObject) {
        for key in extensionObject.keys where key.hasPrefix("value") || key.hasPrefix("_value") {
            extensionObject[key] = nil
        }
    }

    /// ext-1: an extension has a value or sub-extensions; one with neither is dropped.
    private static func hasContent(_ extensionObject: JSONObject) -> Bool {
        extensionObject.keys.contains { $0 == "extension" || $0.hasPrefix("value") }
    }
}
