/// The lexical rules of FHIR primitive types, for callers outside the validator: the request
/// layer's id checks, references, the platform's formats. One rule, one place.
public enum FHIRLexical {
    /// Whether `text` is a valid lexical form of the primitive `typeCode` (`id`, `date`,
    /// `dateTime`, `code`, …). Unknown type codes accept any non-empty text.
    public static func isValid(_ text: some StringProtocol, as typeCode: String) -> Bool {
        guard let format = PrimitiveFormat(typeCode: typeCode) else { return !text.isEmpty }
        return format.accepts(String(text))
    }

    /// A FHIR id: 1 to 64 of `A-Z a-z 0-9 - .`.
    public static func isID(_ text: some StringProtocol) -> Bool {
        isValid(text, as: "id")
    }
}
