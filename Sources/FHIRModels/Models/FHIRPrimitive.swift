/// A FHIR primitive element: an optional value plus the `id` and `extension` that FHIR JSON
/// carries in the `_field` member beside it.
///
/// A primitive may have extensions and no value (for example a data-absent-reason), so
/// `value` is optional even where the element is required.
public struct FHIRPrimitive<Value: FHIRPrimitiveValue>: Sendable, Hashable {
    public var value: Value?
    /// `Element.id`, from the `_field` object.
    public var id: String?
    /// `Element.extension`, from the `_field` object.
    public var `extension`: [Extension]

    public init(_ value: Value? = nil, id: String? = nil, extension: [Extension] = []) {
        self.value = value
        self.id = id
        self.extension = `extension`
    }

    /// Whether there is anything to write in the `_field` member.
    var hasElementContent: Bool {
        id != nil || !`extension`.isEmpty
    }
}

extension FHIRPrimitive: ExpressibleByUnicodeScalarLiteral where Value == String {
    public init(unicodeScalarLiteral value: String) {
        self.init(value)
    }
}

extension FHIRPrimitive: ExpressibleByExtendedGraphemeClusterLiteral where Value == String {
    public init(extendedGraphemeClusterLiteral value: String) {
        self.init(value)
    }
}

extension FHIRPrimitive: ExpressibleByStringLiteral where Value == String {
    public init(stringLiteral value: String) {
        self.init(value)
    }
}

extension FHIRPrimitive: ExpressibleByBooleanLiteral where Value == Bool {
    public init(booleanLiteral value: Bool) {
        self.init(value)
    }
}

extension FHIRPrimitive: ExpressibleByIntegerLiteral where Value == Int32 {
    public init(integerLiteral value: Int32) {
        self.init(value)
    }
}
