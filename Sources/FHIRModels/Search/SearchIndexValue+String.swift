import Foundation

extension SearchIndexValue {
    /// A string value for `text`, normalised as string search matches it.
    public static func string(_ text: String) -> SearchIndexValue {
        .string(normalized: normalizedString(text), exact: text)
    }

    /// Case- and accent-insensitive form used by string search: compatibility decomposition
    /// (NFKD), combining marks removed, lowercased, runs of whitespace collapsed to one space
    /// and trimmed. "Müller", "MULLER" and " muller " all give "muller". Queries must be
    /// normalised with the same function.
    public static func normalizedString(_ text: String) -> String {
        normalizedASCII(text) ?? normalizedUnicode(text)
    }

    /// The general folding: lowercase, compatibility decomposition, combining marks dropped,
    /// whitespace runs to one space, trimmed.
    static func normalizedUnicode(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in text.lowercased().decomposedStringWithCompatibilityMapping.unicodeScalars {
            if scalar.properties.isWhitespace {
                pendingSpace = !scalars.isEmpty
                continue
            }
            switch scalar.properties.generalCategory {
            case .nonspacingMark, .spacingMark, .enclosingMark: continue
            default: break
            }
            if pendingSpace {
                scalars.append(" ")
                pendingSpace = false
            }
            scalars.append(scalar)
        }
        return String(scalars)
    }

    /// The same folding for pure ASCII text (most indexed strings), without Unicode
    /// normalization: lowercase, whitespace runs to one space, trimmed. ASCII has no combining
    /// marks and decomposes to itself, so the result equals the general path's. Nil otherwise.
    static func normalizedASCII(_ text: String) -> String? {
        var text = text
        return text.withUTF8 { bytes -> String? in
            var output: [UInt8] = []
            output.reserveCapacity(bytes.count)
            var pendingSpace = false
            for byte in bytes {
                guard byte < 0x80 else { return nil }
                if byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) {
                    pendingSpace = !output.isEmpty
                    continue
                }
                if pendingSpace {
                    output.append(0x20)
                    pendingSpace = false
                }
                output.append(byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte)
            }
            return String(decoding: output, as: UTF8.self)
        }
    }
}
