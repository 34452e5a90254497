/// Which elements of a type an object has, as a bit set: cheaper than a Set per object.
/// `TypeInfo` guarantees at most 128 elements per type (R4's largest has 54).
struct ElementSet {
    private var low: UInt64 = 0
    private var high: UInt64 = 0

    mutating func insert(_ index: Int) {
        if index < 64 { low |= 1 << UInt64(index) } else { high |= 1 << UInt64(index - 64) }
    }

    func contains(_ index: Int) -> Bool {
        index < 64 ? low & (1 << UInt64(index)) != 0 : high & (1 << UInt64(index - 64)) != 0
    }
}
