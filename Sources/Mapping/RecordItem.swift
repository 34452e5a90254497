import FHIRModels

/// One entry of a medical record list (a procedure, a test result, an allergy…) ⇄ one
/// `record-item` extension on the list's Composition section.
public struct RecordItem: Sendable, Equatable {
    public var description: String?
    /// A date or a dateTime, kept as given.
    public var date: String?
    /// A code from any code system, as text.
    public var code: String?

    public init(description: String?, date: String? = nil, code: String? = nil) {
        self.description = description
        self.date = date
        self.code = code
    }

    static let members = ["description", "date", "code"]

    init(reader: BodyReader) {
        self.init(
            description: reader.string("description", required: true),
            date: reader.dateOrDateTime("date"),
            code: reader.string("code")
        )
    }

    var json: JSONValue {
        var object = JSONObject()
        object.setString("description", description)
        object.setString("date", date)
        object.setString("code", code)
        return .object(object)
    }
}

extension RecordItem {
    init(fhirExtension: JSONObject) {
        func part(_ name: String) -> String? {
            FHIRExtensionList.value(in: fhirExtension, url: name, as: "valueString")?.stringValue
        }
        self.init(description: part("description"), date: part("date"), code: part("code"))
    }

    var fhirExtension: JSONValue {
        let parts: [JSONValue] = [("description", description), ("date", date), ("code", code)].compactMap { name, value in
            value.map { FHIRExtensionList.make(url: name, key: "valueString", .string($0)) }
        }
        var object: JSONObject = ["url": .string(PlatformProfiles.recordItem)]
        object.setArray("extension", parts)
        return .object(object)
    }

    /// The item as a line of the section's narrative (escaped XHTML).
    var narrative: String {
        var text = XHTMLNarrative.escape(description ?? "")
        if let date { text += " (\(XHTMLNarrative.escape(date)))" }
        if let code { text += " [code \(XHTMLNarrative.escape(code))]" }
        return text
    }
}
