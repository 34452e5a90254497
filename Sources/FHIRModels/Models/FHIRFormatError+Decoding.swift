extension FHIRFormatError {
    /// The same error, located inside `segment`: decoders throw expressions relative to the
    /// element they read, and each level prepends its member name on the way out, so the
    /// happy path builds no path strings.
    func within(_ segment: String) -> FHIRFormatError {
        let located: String
        if let expression {
            located = expression.hasPrefix("[") ? segment + expression : segment + "." + expression
        } else {
            located = segment
        }
        return FHIRFormatError(kind, message, line: line, column: column, expression: located)
    }

    static func missing(_ name: String) -> FHIRFormatError {
        FHIRFormatError(.missingElement, "Required element is missing", expression: name)
    }
}
