/// A FHIR reference string (`Reference.reference`, a canonical or a uri pointing at a
/// resource), parsed once by the one parser every layer uses: access control asks which
/// patient it names, the search index which resource it targets, Bundle processing whether
/// it is a placeholder, the platform mapping which record id it holds.
///
/// The forms (R4 2.3.0 "Literal references"):
/// - relative `Type/id` or `Type/id/_history/vid`;
/// - absolute: a URL ending in one of those (`https://host/fhir/Patient/1`);
/// - contained `#id`, `urn:uuid:`/`urn:oid:` placeholders, conditional `Type?query`: these
///   name no stored resource by id, so they have no `target`.
public struct ResourceReference: Sendable, Hashable {
    public let text: String
    /// The resource type and id a literal reference points at; nil for the other forms, an
    /// unknown resource type or an invalid id.
    public let target: (type: String, id: String)?
    /// The version of a `/_history/vid` reference.
    public let version: String?
    /// Written as a URL with a scheme (`https://…`), rather than relative.
    public let isAbsolute: Bool

    public init(_ text: String) {
        self.text = text
        // A conditional reference's criteria may hold URLs (`identifier=http://…|1`): only the
        // part before them tells whether the reference itself is a URL.
        // Byte scans, not Foundation's `contains(_: String)`: this runs for every reference of
        // every resource written (index, compartments, bulk import), and the Foundation search
        // was the single hottest function of an import.
        let bytes = text.utf8
        let question = bytes.firstIndex(of: UInt8(ascii: "?"))
        isAbsolute = Self.hasSchemeSeparator(bytes[..<(question ?? bytes.endIndex)])
        var parsedTarget: (type: String, id: String)? = nil
        var parsedVersion: String? = nil
        if !text.isEmpty, question == nil, !bytes.contains(UInt8(ascii: "#")), !text.hasPrefix("urn:") {
            var segments = text.split(separator: "/", omittingEmptySubsequences: false)
            if segments.count >= 4, segments[segments.count - 2] == "_history" {
                parsedVersion = String(segments[segments.count - 1])
                segments.removeLast(2)
            }
            // Relative references are exactly `Type/id`; absolute ones end in it.
            if segments.count >= 2, isAbsolute || segments.count == 2 {
                let type = String(segments[segments.count - 2]), id = String(segments[segments.count - 1])
                if Self.isResourceType(type), FHIRLexical.isID(id) { parsedTarget = (type, id) }
            }
        }
        target = parsedTarget
        version = parsedTarget == nil ? nil : parsedVersion
    }

    /// The id this reference names when it points at a resource of `type`.
    public func id(ofType type: String) -> String? {
        guard let target, target.type == type else { return nil }
        return target.id
    }

    /// A Bundle placeholder (`urn:uuid:`, `urn:oid:`) that a transaction rewrites.
    public var isPlaceholder: Bool { text.hasPrefix("urn:uuid:") || text.hasPrefix("urn:oid:") }

    /// Conditional (`Type?criteria`): resolved by search in a transaction.
    public var isConditional: Bool {
        guard let question = text.firstIndex(of: "?") else { return false }
        return Self.isResourceType(String(text[..<question]))
    }

    /// A reference to a resource contained in the referring one (`#id`).
    public var isContained: Bool { text.hasPrefix("#") }

    /// The relative literal form `Type/id`, the only form the store writes.
    public static func literal(type: String, id: String) -> String { "\(type)/\(id)" }

    public static func == (lhs: ResourceReference, rhs: ResourceReference) -> Bool { lhs.text == rhs.text }
    public func hash(into hasher: inout Hasher) { hasher.combine(text) }

    /// Whether the bytes hold `://`.
    static func hasSchemeSeparator(_ bytes: Substring.UTF8View) -> Bool {
        var index = bytes.startIndex
        while let colon = bytes[index...].firstIndex(of: UInt8(ascii: ":")) {
            let rest = bytes[bytes.index(after: colon)...]
            if rest.starts(with: "//".utf8) { return true }
            index = bytes.index(after: colon)
        }
        return false
    }

    static func isResourceType(_ name: String) -> Bool {
        guard let first = name.utf8.first, (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) else { return false }
        return FHIRMetadata.type(named: name)?.kind == .resource
    }
}
