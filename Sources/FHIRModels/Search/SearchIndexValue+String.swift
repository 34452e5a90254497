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
}
