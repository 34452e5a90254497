/// What extracting one resource produced: its index entries, and the parameters of its type
/// that yielded nothing because they could not be evaluated.
public struct SearchIndexExtraction: Sendable, Equatable {
    /// Why a parameter of the resource's type was not indexed.
    public struct Skip: Sendable, Equatable {
        public enum Reason: Sendable, Equatable {
            /// Composite and special parameters are matched by the query engine from their
            /// components or by dedicated code, not from stored values.
            case notIndexedKind(SearchParameterDefinition.Kind)
            /// `_text`, `_content`, `_query`: the definition has no expression.
            case noExpression
            /// The expression is outside the FHIRPath subset (or not FHIRPath).
            case compileFailed(FHIRPathError)
            /// The expression failed on this resource (a malformed resource, mostly).
            case evaluationFailed(FHIRPathError)
        }

        public let code: String
        public let reason: Reason

        /// Whether this is a failure rather than a parameter skipped by design.
        public var isFailure: Bool {
            switch reason {
            case .compileFailed, .evaluationFailed: return true
            case .notIndexedKind, .noExpression: return false
            }
        }
    }

    public let entries: [SearchIndexEntry]
    public let skipped: [Skip]

    public var failures: [Skip] { skipped.filter(\.isFailure) }
}
