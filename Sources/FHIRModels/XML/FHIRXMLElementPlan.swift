/// One element of a `FHIRXMLTypePlan`: its name as bytes for matching XML names without
/// building strings, and for each type it may carry (one, or several for a choice) the
/// JSON member names and how the content is coded.
struct FHIRXMLElementPlan: Sendable {
    enum Content: Sendable, Equatable {
        case primitive(FHIRPrimitiveJSONKind)
        /// Narrative `div`.
        case xhtml
        /// Any resource, wrapped in the element (`contained`, `Bundle.entry.resource`).
        case resource
        /// A complex datatype or backbone element: index into `FHIRXMLTypePlan.all`.
        case complex(Int)
        /// A type code without metadata; never produced by the R4 data.
        case unknown
    }

    struct Variant: Sendable {
        /// The capitalised type code appended to a choice element's name (`Quantity`).
        let suffix: [UInt8]
        /// `valueQuantity`, or the element name for a non-choice element.
        let jsonName: String
        /// `_valueQuantity`: the member for a primitive's id and extensions.
        let extraJSONName: String
        let content: Content
    }

    let name: [UInt8]
    let isArray: Bool
    let isChoice: Bool
    let representation: ElementRepresentation
    let variants: [Variant]

    /// The variant whose full XML name is `bytes`, if any.
    @inline(__always)
    func variant(matching bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        let count = name.count
        guard bytes.count >= count, bytes[0] == name[0] else { return nil }
        let prefixMatches = name.withUnsafeBufferPointer { name in
            var index = 1
            while index < count {
                if bytes[index] != name[index] { return false }
                index += 1
            }
            return true
        }
        guard prefixMatches else { return nil }
        if !isChoice { return bytes.count == count ? 0 : nil }
        let rest = bytes.count - count
        for (offset, variant) in variants.enumerated() where variant.suffix.count == rest {
            if variant.suffix.withUnsafeBufferPointer({ suffix in
                var index = 0
                while index < rest {
                    if bytes[count + index] != suffix[index] { return false }
                    index += 1
                }
                return true
            }) {
                return offset
            }
        }
        return nil
    }
}
