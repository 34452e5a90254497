/// A compiled FHIRPath expression (hl7.org/fhirpath), in the subset that the R4 search
/// parameters use: paths (choice elements included), `|`, `where`, `exists`, `empty`, `not`,
/// `first`, `last`, `count`, `hasValue`, `extension(url)`, `resolve()`, `ofType`/`as`/`is`,
/// `=`, `!=`, `and`, `or`, `xor`, `implies`, string, number and boolean literals, `%resource`.
///
/// Anything else (arithmetic, comparisons, date literals, other functions) throws
/// `FHIRPathError.unsupported` when compiling, so an expression is never evaluated half-right.
public struct FHIRPathExpression: Sendable {
    /// Departures from strict FHIRPath that FHIR's own definitions rely on.
    public struct Options: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        /// `as` on several items filters them (like `ofType`) instead of failing. R4 search
        /// expressions such as `Observation.component.value as Quantity` need it; the FHIRPath
        /// suite wants the error.
        public static let castsFilter = Options(rawValue: 1)
        /// What search parameter expressions need.
        public static let search: Options = [.castsFilter]
    }

    public let text: String
    public let options: Options
    let root: FHIRPathNode

    public init(_ text: String, options: Options = []) throws(FHIRPathError) {
        self.text = text
        self.options = options
        root = try FHIRPathParser.parse(text)
    }

    /// The result collection for `resource` (FHIR JSON; its `resourceType` types the navigation).
    public func evaluate(_ resource: JSONValue) throws(FHIRPathError) -> [FHIRPathValue] {
        let context = FHIRPathValue(node: resource, typeName: resource["resourceType"]?.stringValue)
        return try FHIRPathEvaluator(resource: context, options: options).evaluate(root, focus: [context], this: context)
    }
}
