import FHIRModels
import Foundation
import Logging
import PostgresNIO

/// A batch of resources' search index rows (migration 0004), column by column, ready to be
/// bound as arrays and inserted with `unnest` in the same statement as the resources. Each row
/// names its resource by ordinal (1-based position in the batch); the statement maps ordinals
/// to resource keys through a CTE named `keyed (resource_key, ord)`.
///
/// Extraction runs on the clear content only: sealed elements are never indexed here (email and
/// phone are searchable through the blind index instead).
struct SearchIndexRows: Sendable {
    /// `resource.index_version` of rows indexed by this code. 4: also the composite rows of
    /// `compositeDatePairs` (issue 16); 3: every R4 parameter (issue 6); 2: compartment and
    /// care-relationship rows only; 1: neither.
    static let version = 4

    /// The first version that writes composite rows: searches use them for rows at this version
    /// or later and test older rows (migration 0008's partial index) the plain way.
    static let compositeVersion = 4

    /// Token and date parameters searched together (`Observation?code=s|c&date=ge…`): besides its
    /// own rows, each `system|code` of the token gets a `search_date` row per date value under
    /// the composite key `SearchIndexKey.composite(date:token:)`, so the pair is one bounded
    /// range scan on `(param, long, low)` instead of a date range semi-joined with every row of
    /// a common code.
    static let compositeDatePairs: [String: [(token: String, date: String)]] = [
        "Observation": [("code", "date")],
        "DiagnosticReport": [("code", "date")],
    ]

    private static let extractor = SearchIndexExtractor()

    var tokenOrdinals: [Int64] = [], tokenParams: [Int64] = [], tokenSystemCodes: [Int64] = [],
        tokenCodes: [Int64] = [], tokenSystems: [Int64] = [], tokenValues: [String] = []
    var stringOrdinals: [Int64] = [], stringParams: [Int64] = [], stringNormalized: [String] = [], stringExact: [String] = []
    var dateOrdinals: [Int64] = [], dateParams: [Int64] = [], dateLows: [Date] = [], dateHighs: [Date] = []
    var referenceOrdinals: [Int64] = [], referenceParams: [Int64] = [], referenceTypes: [String] = [],
        referenceIDs: [String] = [], referenceURLs: [String] = []
    var numberOrdinals: [Int64] = [], numberParams: [Int64] = [], numberValues: [String] = []
    var quantityOrdinals: [Int64] = [], quantityParams: [Int64] = [], quantityValues: [String] = [],
        quantitySystems: [String] = [], quantityCodes: [String] = [], quantityUnits: [String] = []
    var uriOrdinals: [Int64] = [], uriParams: [Int64] = [], uriValues: [String] = []

    var isEmpty: Bool {
        tokenOrdinals.isEmpty && stringOrdinals.isEmpty && dateOrdinals.isEmpty && referenceOrdinals.isEmpty
            && numberOrdinals.isEmpty && quantityOrdinals.isEmpty && uriOrdinals.isEmpty
    }

    /// Appends another batch's rows (built with the same ordinals numbering), for batches whose
    /// resources were indexed in parallel slices.
    mutating func append(contentsOf other: SearchIndexRows) {
        tokenOrdinals += other.tokenOrdinals; tokenParams += other.tokenParams; tokenSystemCodes += other.tokenSystemCodes
        tokenCodes += other.tokenCodes; tokenSystems += other.tokenSystems; tokenValues += other.tokenValues
        stringOrdinals += other.stringOrdinals; stringParams += other.stringParams
        stringNormalized += other.stringNormalized; stringExact += other.stringExact
        dateOrdinals += other.dateOrdinals; dateParams += other.dateParams; dateLows += other.dateLows; dateHighs += other.dateHighs
        referenceOrdinals += other.referenceOrdinals; referenceParams += other.referenceParams
        referenceTypes += other.referenceTypes; referenceIDs += other.referenceIDs; referenceURLs += other.referenceURLs
        numberOrdinals += other.numberOrdinals; numberParams += other.numberParams; numberValues += other.numberValues
        quantityOrdinals += other.quantityOrdinals; quantityParams += other.quantityParams; quantityValues += other.quantityValues
        quantitySystems += other.quantitySystems; quantityCodes += other.quantityCodes; quantityUnits += other.quantityUnits
        uriOrdinals += other.uriOrdinals; uriParams += other.uriParams; uriValues += other.uriValues
    }

    /// Adds the rows of `resource` (its clear content), the `ordinal`-th of the batch.
    mutating func append(type: String, resource: JSONValue, ordinal: Int) {
        let ord = Int64(ordinal)
        let definitions = SearchParameterDefinitions.byCode(for: type)
        let entries = Self.extractor.entries(for: resource)
        for entry in entries {
            append(entry.value, type: type, code: entry.code, isReference: definitions[entry.code]?.kind == .reference, ord: ord)
        }
        appendIdentifierTypes(type: type, resource: resource, ord: ord)
        for pair in Self.compositeDatePairs[type] ?? [] {
            appendComposite(type: type, pair: pair, entries: entries, ord: ord)
        }
    }

    /// The composite rows of one pair: each `system|code` of the token with each date value.
    private mutating func appendComposite(type: String, pair: (token: String, date: String), entries: [SearchIndexEntry], ord: Int64) {
        var dates: [(low: Date, high: Date)] = []
        for entry in entries where entry.code == pair.date {
            if case .date(let low, let high) = entry.value { dates.append((low, high)) }
        }
        guard !dates.isEmpty else { return }
        let dateParam = SearchIndexKey.param(type: type, code: pair.date)
        var seen = Set<Int64>()
        for entry in entries where entry.code == pair.token {
            guard case .token(let system, let code?, _) = entry.value else { continue }
            let token = SearchTokenHash.systemCode(type: type, param: pair.token, system: system ?? "", code: code)
            guard seen.insert(token).inserted else { continue }
            let composite = SearchIndexKey.composite(date: dateParam, token: token)
            for date in dates {
                dateOrdinals.append(ord)
                dateParams.append(composite)
                dateLows.append(date.low)
                dateHighs.append(date.high)
            }
        }
    }

    private mutating func append(_ value: SearchIndexValue, type: String, code: String, isReference: Bool, ord: Int64) {
        switch value {
        case .token(let system, let value?, _) where isReference:
            // A logical reference's identifier, for `param:identifier`.
            appendToken(type: type, param: code + ":identifier", system: system, code: value, ord: ord)
        case .token(let system, let tokenCode, let display):
            if let tokenCode { appendToken(type: type, param: code, system: system, code: tokenCode, ord: ord) }
            if let display, !display.isEmpty {
                appendString(type: type, param: code + ":text", normalized: SearchIndexValue.normalizedString(display), exact: display, ord: ord)
            }
        case .string(let normalized, let exact):
            appendString(type: type, param: code, normalized: normalized, exact: exact, ord: ord)
        case .date(let low, let high):
            dateOrdinals.append(ord)
            dateParams.append(SearchIndexKey.param(type: type, code: code))
            dateLows.append(low)
            dateHighs.append(high)
        case .reference(let targetType, let id, let url):
            referenceOrdinals.append(ord)
            referenceParams.append(SearchIndexKey.param(type: type, code: code))
            referenceTypes.append(targetType ?? "")
            referenceIDs.append(id ?? "")
            referenceURLs.append(url ?? "")
        case .number(let number):
            numberOrdinals.append(ord)
            numberParams.append(SearchIndexKey.param(type: type, code: code))
            numberValues.append(number.description)
        case .quantity(let number, let system, let unitCode, let unit):
            quantityOrdinals.append(ord)
            quantityParams.append(SearchIndexKey.param(type: type, code: code))
            quantityValues.append(number.description)
            quantitySystems.append(system ?? "")
            quantityCodes.append(unitCode ?? "")
            quantityUnits.append(unit ?? "")
        case .uri(let text):
            uriOrdinals.append(ord)
            uriParams.append(SearchIndexKey.param(type: type, code: code))
            uriValues.append(text)
        }
    }

    private mutating func appendToken(type: String, param: String, system: String?, code: String, ord: Int64) {
        tokenOrdinals.append(ord)
        tokenParams.append(SearchIndexKey.param(type: type, code: param))
        tokenSystemCodes.append(SearchTokenHash.systemCode(type: type, param: param, system: system ?? "", code: code))
        tokenCodes.append(SearchTokenHash.code(type: type, param: param, code: code))
        tokenSystems.append(SearchTokenHash.system(type: type, param: param, system: system ?? ""))
        tokenValues.append(code)
    }

    private mutating func appendString(type: String, param: String, normalized: String, exact: String, ord: Int64) {
        stringOrdinals.append(ord)
        stringParams.append(SearchIndexKey.param(type: type, code: param))
        stringNormalized.append(normalized)
        stringExact.append(exact)
    }

    /// `identifier:of-type=system|code|value`: each identifier's type codings with its value.
    private mutating func appendIdentifierTypes(type: String, resource: JSONValue, ord: Int64) {
        guard let identifiers = resource["identifier"] else { return }
        for identifier in identifiers.arrayValue ?? [identifiers] {
            guard let value = identifier["value"]?.stringValue,
                  let codings = identifier["type"]?["coding"]?.arrayValue else { continue }
            for coding in codings {
                guard let typeCode = coding["code"]?.stringValue else { continue }
                let system = coding["system"]?.stringValue ?? ""
                appendToken(type: type, param: "identifier:of-type", system: system, code: typeCode + "|" + value, ord: ord)
            }
        }
    }

    /// The CTEs (each preceded by a comma) inserting these rows, their arrays bound into
    /// `parameters`. Needs a CTE `keyed (resource_key, ord)` before them.
    func insertCTEs(_ parameters: inout SQLParameters) -> String {
        func p<Value: PostgresDynamicTypeEncodable>(_ values: Value, _ type: String) -> String {
            "\(parameters.bind(values))::\(type)[]"
        }
        let token = "unnest(\(p(tokenOrdinals, "bigint")), \(p(tokenParams, "bigint")), \(p(tokenSystemCodes, "bigint")), "
            + "\(p(tokenCodes, "bigint")), \(p(tokenSystems, "bigint")), \(p(tokenValues, "text")))"
        let string = "unnest(\(p(stringOrdinals, "bigint")), \(p(stringParams, "bigint")), \(p(stringNormalized, "text")), "
            + "\(p(stringExact, "text")))"
        let date = "unnest(\(p(dateOrdinals, "bigint")), \(p(dateParams, "bigint")), \(p(dateLows, "timestamptz")), "
            + "\(p(dateHighs, "timestamptz")))"
        let reference = "unnest(\(p(referenceOrdinals, "bigint")), \(p(referenceParams, "bigint")), \(p(referenceTypes, "text")), "
            + "\(p(referenceIDs, "text")), \(p(referenceURLs, "text")))"
        let number = "unnest(\(p(numberOrdinals, "bigint")), \(p(numberParams, "bigint")), \(p(numberValues, "text")))"
        let quantity = "unnest(\(p(quantityOrdinals, "bigint")), \(p(quantityParams, "bigint")), \(p(quantityValues, "text")), "
            + "\(p(quantitySystems, "text")), \(p(quantityCodes, "text")), \(p(quantityUnits, "text")))"
        let uri = "unnest(\(p(uriOrdinals, "bigint")), \(p(uriParams, "bigint")), \(p(uriValues, "text")))"
        return """
            , index_token AS (
                INSERT INTO search_token (resource_key, param, system_code, code, system, value)
                SELECT keyed.resource_key, t.param, t.system_code, t.code, t.system, t.value
                FROM \(token) AS t(ord, param, system_code, code, system, value)
                JOIN keyed ON keyed.ord = t.ord
            ), index_string AS (
                INSERT INTO search_string (resource_key, param, normalized, exact)
                SELECT keyed.resource_key, s.param, s.normalized, s.exact
                FROM \(string) AS s(ord, param, normalized, exact)
                JOIN keyed ON keyed.ord = s.ord
            ), index_date AS (
                INSERT INTO search_date (resource_key, param, low, high)
                SELECT keyed.resource_key, d.param, d.low, d.high
                FROM \(date) AS d(ord, param, low, high)
                JOIN keyed ON keyed.ord = d.ord
            ), index_reference AS (
                INSERT INTO search_reference (resource_key, param, target_type, target_id, url)
                SELECT keyed.resource_key, f.param, NULLIF(f.target_type, ''), NULLIF(f.target_id, ''), NULLIF(f.url, '')
                FROM \(reference) AS f(ord, param, target_type, target_id, url)
                JOIN keyed ON keyed.ord = f.ord
            ), index_number AS (
                INSERT INTO search_number (resource_key, param, value)
                SELECT keyed.resource_key, n.param, n.value::numeric
                FROM \(number) AS n(ord, param, value)
                JOIN keyed ON keyed.ord = n.ord
            ), index_quantity AS (
                INSERT INTO search_quantity (resource_key, param, value, system, code, unit)
                SELECT keyed.resource_key, q.param, q.value::numeric, NULLIF(q.system, ''), NULLIF(q.code, ''), NULLIF(q.unit, '')
                FROM \(quantity) AS q(ord, param, value, system, code, unit)
                JOIN keyed ON keyed.ord = q.ord
            ), index_uri AS (
                INSERT INTO search_uri (resource_key, param, value)
                SELECT keyed.resource_key, u.param, u.value
                FROM \(uri) AS u(ord, param, value)
                JOIN keyed ON keyed.ord = u.ord
            )
            """
    }

    /// The index tables, for deleting a resource's rows.
    static let tables = [
        "search_token", "search_string", "search_date", "search_reference", "search_number", "search_quantity", "search_uri",
    ]

    /// CTEs (each preceded by a comma) deleting every index row of the resource keys bound at `$keys`.
    static func deleteCTEs(keys: String) -> String {
        tables.map { ", delete_\($0) AS (DELETE FROM \($0) WHERE resource_key = ANY(\(keys)::bigint[]))" }.joined()
    }
}

/// The `param` column of the index tables: a 64-bit hash of (resource type, parameter code),
/// so a row names its parameter and its resource type at once.
enum SearchIndexKey {
    static func param(type: String, code: String) -> Int64 {
        SearchTokenHash.hash(type, code)
    }

    /// The `search_date.param` of a composite row (`SearchIndexRows.compositeDatePairs`): the date
    /// parameter's key with one `system|code` token hash of the paired parameter.
    static func composite(date: Int64, token: Int64) -> Int64 {
        SearchTokenHash.hash("composite", String(date), String(token))
    }
}

extension SearchIndexRows {
    /// Replaces every index row of `keys` (the batch's resources in ordinal order) with these
    /// rows, in one statement: updates, deletions (no rows) and the reindexer use it.
    func replace(keys: [Int64], on connection: PostgresConnection, logger: Logger) async throws {
        var parameters = SQLParameters()
        let keys = parameters.bind(keys)
        let text = """
            WITH keyed AS (SELECT * FROM unnest(\(keys)::bigint[]) WITH ORDINALITY AS k(resource_key, ord))
            \(Self.deleteCTEs(keys: keys))\(insertCTEs(&parameters))
            SELECT 1
            """
        try await connection.rows(parameters.query(text), logger: logger)
    }
}
