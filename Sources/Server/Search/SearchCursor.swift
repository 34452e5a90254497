import FHIRModels
import Foundation

/// Where the next page starts: the last row's sort values (as PostgreSQL printed them) and its
/// resource key. Keyset paging: a page is "rows after this one in the sort order", so pages stay
/// correct while other clients write, and deep pages cost what the first one does.
struct SearchCursor: Sendable, Equatable {
    var key: Int64
    var values: [String?]

    /// Opaque and URL-safe: base64url of a small JSON array.
    var token: String {
        var items: [JSONValue] = [.number(String(key))]
        items += values.map { $0.map(JSONValue.string) ?? .null }
        let bytes = FHIRJSON.serialize(.array(items))
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    init(key: Int64, values: [String?]) {
        self.key = key
        self.values = values
    }

    /// Parses a token made by `token`, for a query with `sortKeys` keys; nil when it is not one.
    init?(token: String, sortKeys: Int) {
        guard token.count <= 4096 else { return nil }
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let json = try? FHIRJSON.parse(data),
              let items = json.arrayValue, items.count == sortKeys + 1,
              let keyText = items[0].numberLexical, let key = Int64(keyText) else { return nil }
        var values: [String?] = []
        for item in items.dropFirst() {
            switch item {
            case .null: values.append(nil)
            case .string(let text): values.append(text)
            default: return nil
            }
        }
        self.key = key
        self.values = values
    }
}
