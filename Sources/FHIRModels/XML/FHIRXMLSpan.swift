/// Where the bytes of a name, text or attribute value live: either straight in the
/// source (the common case, no copy) or, when entities or line ends had to be
/// decoded, in the document's arena of decoded bytes.
public struct FHIRXMLSpan: Sendable, Hashable {
    public let start: Int32
    public let end: Int32
    public let isDecoded: Bool

    init(start: Int, end: Int, isDecoded: Bool) {
        self.start = Int32(truncatingIfNeeded: start)
        self.end = Int32(truncatingIfNeeded: end)
        self.isDecoded = isDecoded
    }

    static let empty = FHIRXMLSpan(start: 0, end: 0, isDecoded: false)

    public var count: Int { Int(end - start) }
    public var isEmpty: Bool { start == end }
}
