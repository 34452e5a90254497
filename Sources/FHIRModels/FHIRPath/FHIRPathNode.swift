/// The compiled form of a FHIRPath expression in the supported subset.
indirect enum FHIRPathNode: Sendable {
    enum BinaryOperator: String, Sendable {
        case union = "|", equals = "=", notEquals = "!=", and, or, xor, implies
    }

    enum Function: String, Sendable {
        case `where`, exists, empty, not, first, last, count, hasValue, `extension`, resolve
    }

    /// A literal collection (`{}` is empty).
    case literal([FHIRPathValue])
    /// `$this`: the item under evaluation inside `where`/`exists`, else the context.
    case this
    /// `%resource`, `%context`, `%rootResource`: the resource evaluated.
    case resource
    /// A member name; with no base it starts the path and may name the context's type (`Patient`).
    case member(base: FHIRPathNode?, name: String)
    case function(base: FHIRPathNode?, function: Function, arguments: [FHIRPathNode])
    /// `ofType(T)`, `as(T)`, `as T`, `is(T)`, `is T`.
    case typeTest(base: FHIRPathNode?, operation: TypeOperation, type: String)
    case index(base: FHIRPathNode, index: FHIRPathNode)
    case binary(BinaryOperator, FHIRPathNode, FHIRPathNode)

    enum TypeOperation: Sendable {
        case ofType, `as`, `is`
    }
}
