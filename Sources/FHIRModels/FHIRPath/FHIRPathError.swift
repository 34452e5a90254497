/// Why a FHIRPath expression could not be compiled or evaluated. Messages name the construct
/// and its position, never a resource's values.
public enum FHIRPathError: Error, Sendable, Equatable {
    /// Not FHIRPath: an unterminated string or comment, a missing `)`, a stray token.
    case syntax(String)
    /// Valid FHIRPath outside the supported subset (arithmetic, date literals, most functions).
    /// Thrown when compiling, so that nothing is silently evaluated wrongly.
    case unsupported(String)
    /// The expression cannot apply to this data: an element the type does not define, a
    /// function that needs one item given several, or (when compiling) an unknown type name.
    case evaluation(String)
}
