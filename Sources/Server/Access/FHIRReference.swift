import FHIRModels

/// Parses FHIR reference strings into the resource they point at, so access checks can
/// compare targets whatever form (relative, versioned, absolute) a client wrote.
public enum FHIRReference {
    /// The type and id a literal reference points at: `Type/id`, `Type/id/_history/v`, or an
    /// absolute URL ending in one of those. Contained (`#x`), `urn:` (uuid, oid), conditional
    /// (`Type?query`) references and unknown resource types give nil: none of them names a
    /// stored resource by id.
    public static func target(_ reference: String) -> (type: String, id: String)? {
        guard !reference.isEmpty, !reference.hasPrefix("#"), !reference.hasPrefix("urn:"),
              !reference.contains("?"), !reference.contains("#") else { return nil }
        let isAbsolute = reference.contains("://")
        var segments = reference.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if segments.count >= 4, segments[segments.count - 2] == "_history" {
            segments.removeLast(2)
        }
        guard segments.count >= 2, isAbsolute || segments.count == 2 else { return nil }
        let type = segments[segments.count - 2]
        let id = segments[segments.count - 1]
        guard resourceTypeNames.contains(type), isValidID(id) else { return nil }
        return (type, id)
    }

    /// FHIR ids: 1 to 64 of `A-Z a-z 0-9 - .`.
    static func isValidID(_ id: String) -> Bool {
        FHIRLexical.isID(id)
    }

    private static let resourceTypeNames = Set(FHIRMetadata.resourceTypeNames)
}
