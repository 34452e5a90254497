/// Boxes a stored property so that types which contain each other (Reference contains
/// Identifier, whose `assigner` is a Reference) have a finite size. Value semantics: the box
/// is immutable and replaced on every write.
struct FHIRIndirect<Value: Sendable & Hashable>: Sendable, Hashable {
    private indirect enum Storage: Sendable, Hashable {
        case value(Value)
    }

    private var storage: Storage

    init(_ value: Value) {
        storage = .value(value)
    }

    var value: Value {
        get {
            switch storage {
            case .value(let value): return value
            }
        }
        set {
            storage = .value(newValue)
        }
    }
}
