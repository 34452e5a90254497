import FHIRModels
import FixtureSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// A few Synthea bundles, rewritten so that the server keeps the fixture ids (every entry a PUT
/// to `Type/id`, every `urn:uuid:` reference turned into `Type/id`), plus what the search tests
/// need to compute their expected results from the raw JSON, independently of the server:
/// path navigation, string folding, date ranges and decimals, and a client side that walks
/// every page of a searchset.
struct SyntheaSearchData: Sendable {
    /// Six small bundles chosen for variety: birth years 1967 to 2020, both genders, a maiden
    /// name (Wyman/Deckow), two family names starting with K (Keeling, Kutch), two patients born
    /// in 1981, and one Practitioner shared by two patients (Wyman and Rodriguez).
    static let defaultFiles = [
        "Valentin_Keeling_eec512c0-d680-4dd8-a7ce-5102193974fd.json",
        "Osvaldo_Graham_4fd1c2c4-9b09-4037-b218-a755900d1a8e.json",
        "Joaquin_Rodriguez_69ee9841-f4a6-427a-a2fd-f5a891682057.json",
        "Enda_Schaefer_dd760206-6c4e-4e25-a799-f5c563e489a1.json",
        "Alfreda_Wyman_3287b938-4670-47eb-91e5-e0ce3df71405.json",
        "George_Kutch_7b02ca1b-7983-47e3-9206-a50bbfb1b386.json",
    ]

    /// The rewritten transaction Bundles, in file order.
    let bundles: [JSONValue]
    /// Every resource of every bundle as it is stored, keyed by `Type/id` (shared Practitioners
    /// and Organizations once).
    let byReference: [String: JSONValue]
    /// The Patient id of each bundle, in file order.
    let patientIDs: [String]

    /// Reads and rewrites `files` (names inside `synthea/`). `patientIDs` optionally replaces the
    /// Patient id of the bundle at the same position, so that an account's own Patient resource
    /// becomes the Synthea patient.
    static func load(_ files: [String] = defaultFiles, patientIDs overrides: [String?] = []) throws -> SyntheaSearchData {
        var bundles: [JSONValue] = []
        var byReference: [String: JSONValue] = [:]
        var patientIDs: [String] = []
        for (position, name) in files.enumerated() {
            let original = try FHIRJSON.parse(Fixtures.data("synthea/\(name)"))
            let override = position < overrides.count ? overrides[position] : nil
            let (bundle, resources) = try rewrite(original, patientID: override)
            bundles.append(bundle)
            for resource in resources { byReference[reference(of: resource)] = resource }
            let patient = try #require(resources.first { $0["resourceType"] == "Patient" }, "\(name) has no Patient")
            patientIDs.append(try #require(patient["id"]?.stringValue))
        }
        return SyntheaSearchData(bundles: bundles, byReference: byReference, patientIDs: patientIDs)
    }

    /// The bundle with PUT requests and resolved references, and its resources.
    static func rewrite(_ bundle: JSONValue, patientID: String?) throws -> (JSONValue, [JSONValue]) {
        let entries = try #require(bundle["entry"]?.arrayValue)
        var targets: [String: String] = [:]
        for entry in entries {
            let fullURL = try #require(entry["fullUrl"]?.stringValue)
            let type = try #require(entry["resource"]?["resourceType"]?.stringValue)
            var id = String(fullURL.dropFirst("urn:uuid:".count))
            if type == "Patient", let patientID { id = patientID }
            targets[fullURL] = "\(type)/\(id)"
        }
        var rewritten: [JSONValue] = []
        var resources: [JSONValue] = []
        for entry in entries {
            let fullURL = try #require(entry["fullUrl"]?.stringValue)
            let target = try #require(targets[fullURL])
            let id = String(target.split(separator: "/")[1])
            let original = try #require(entry["resource"])
            var resource = try #require(resolvingReferences(original, targets).objectValue)
            resource["id"] = .string(id)
            resources.append(.object(resource))
            rewritten.append(.object([
                "fullUrl": .string(fullURL), "resource": .object(resource),
                "request": .object(["method": "PUT", "url": .string(target)]),
            ]))
        }
        return (.object(["resourceType": "Bundle", "type": "transaction", "entry": .array(rewritten)]), resources)
    }

    static func resolvingReferences(_ value: JSONValue, _ targets: [String: String]) -> JSONValue {
        switch value {
        case .object(let object):
            var result = JSONObject(reservingCapacity: object.count)
            for (key, child) in object {
                if key == "reference", let text = child.stringValue, let target = targets[text] {
                    result.append(key: key, value: .string(target))
                } else {
                    result.append(key: key, value: resolvingReferences(child, targets))
                }
            }
            return .object(result)
        case .array(let array): return .array(array.map { resolvingReferences($0, targets) })
        default: return value
        }
    }

    /// Posts every bundle as a transaction; each must succeed.
    func post(to client: any TestClientProtocol) async throws {
        for bundle in bundles {
            let response = try await client.sendJSON(.post, "/fhir", bundle)
            try #require(response.status == .ok, "transaction failed: \(response.text.prefix(500))")
        }
    }

    // MARK: - Reading the fixture side

    var resources: [JSONValue] { Array(byReference.values) }

    func resources(_ type: String) -> [JSONValue] {
        byReference.values.filter { $0["resourceType"]?.stringValue == type }
    }

    func resource(_ reference: String) -> JSONValue? { byReference[reference] }

    var patients: [JSONValue] { patientIDs.compactMap { byReference["Patient/\($0)"] } }

    /// `Type/id` of a resource.
    static func reference(of resource: JSONValue) -> String {
        "\(resource["resourceType"]?.stringValue ?? "?")/\(resource["id"]?.stringValue ?? "?")"
    }

    /// `Type/id` of every resource in a list.
    static func references(_ resources: [JSONValue]) -> Set<String> { Set(resources.map(reference(of:))) }

    /// The resources in `patientID`'s compartment, as the fixture says: the Patient itself and every
    /// resource of a type the Patient CompartmentDefinition lists with parameters that references it.
    func compartment(of patientID: String) throws -> [JSONValue] {
        let types = try Self.compartmentTypes()
        let target = "Patient/\(patientID)"
        return resources.filter { resource in
            let type = resource["resourceType"]?.stringValue ?? ""
            if type == "Patient" { return resource["id"]?.stringValue == patientID }
            return types.contains(type) && Self.allReferences(in: resource).contains(target)
        }
    }

    /// Resource types that can be in a Patient compartment (official CompartmentDefinition).
    static func compartmentTypes() throws -> Set<String> {
        let definition = try FHIRJSON.parse(Fixtures.data("definitions/CompartmentDefinition-patient.json"))
        let resources = try #require(definition["resource"]?.arrayValue)
        return Set(resources.compactMap { entry in
            (entry["param"]?.arrayValue ?? []).isEmpty ? nil : entry["code"]?.stringValue
        })
    }

    /// Every `reference` string anywhere in a value.
    static func allReferences(in value: JSONValue) -> [String] {
        switch value {
        case .object(let object):
            return object.flatMap { key, child in
                key == "reference" ? (child.stringValue.map { [$0] } ?? []) : allReferences(in: child)
            }
        case .array(let array): return array.flatMap(allReferences)
        default: return []
        }
    }

    /// Values at a dotted path (`name.family`, `code.coding`), arrays flattened at every step.
    static func values(_ value: JSONValue, _ path: String) -> [JSONValue] {
        var current = [value]
        for step in path.split(separator: ".") {
            current = current.flatMap { item -> [JSONValue] in
                guard let child = item[String(step)] else { return [] }
                return child.arrayValue ?? [child]
            }
        }
        return current
    }

    static func strings(_ value: JSONValue, _ path: String) -> [String] {
        values(value, path).compactMap(\.stringValue)
    }

    /// The referenced `Type/id` at a path (`subject`, `participant.individual`).
    static func referenceTargets(_ value: JSONValue, _ path: String) -> [String] {
        values(value, path).compactMap { $0["reference"]?.stringValue }
    }

    /// Case- and accent-folded, the way FHIR string search compares.
    static func fold(_ text: String) -> String {
        text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil).lowercased()
    }

    /// The string parts of the HumanNames at a path: family, given, prefix, suffix, text.
    static func nameParts(_ value: JSONValue, _ path: String = "name") -> [String] {
        values(value, path).flatMap { name in
            ["family", "given", "prefix", "suffix", "text"].flatMap { strings(name, $0) }
        }
    }

    static func startsWith(_ candidates: [String], _ search: String) -> Bool {
        candidates.contains { fold($0).hasPrefix(fold(search)) }
    }

    static func contains(_ candidates: [String], _ search: String) -> Bool {
        candidates.contains { fold($0).contains(fold(search)) }
    }

    /// Codings of the CodeableConcepts at a path, as (system, code, display).
    static func codings(_ value: JSONValue, _ path: String) -> [(system: String?, code: String?, display: String?)] {
        values(value, path).flatMap { concept in
            (concept["coding"]?.arrayValue ?? []).map {
                ($0["system"]?.stringValue, $0["code"]?.stringValue, $0["display"]?.stringValue)
            }
        }
    }

    static func hasCoding(_ value: JSONValue, _ path: String, system: String?, code: String) -> Bool {
        codings(value, path).contains { $0.code == code && (system == nil || $0.system == system) }
    }

    // MARK: - Dates as ranges

    /// A date, dateTime or instant as the half-open range of seconds (since 1970, UTC) it
    /// covers at its precision; values without a zone are read as UTC, which is how a search
    /// value without a zone is read too, so date-only against date-only compares day by day.
    struct DateRange: Sendable, Equatable {
        let low: Double
        let high: Double

        /// The spec's prefix rules (search.html#prefix) with `self` the search value.
        func matches(_ prefix: String, target: DateRange) -> Bool {
            let contains = low <= target.low && target.high <= high
            switch prefix {
            case "eq": return contains
            case "ne": return !contains
            case "gt": return target.high > high
            case "lt": return target.low < low
            case "ge": return target.high > high || contains
            case "le": return target.low < low || contains
            case "sa": return target.low >= high
            case "eb": return target.high <= low
            default: return false
            }
        }

        /// Whether the target comes within `margin` seconds of a boundary of this range, where
        /// a server's zone policy for zoneless values could decide differently.
        func isNearBoundary(of target: DateRange, margin: Double) -> Bool {
            [low, high].contains { edge in
                abs(target.low - edge) < margin || abs(target.high - edge) < margin
                    || (target.low < edge && edge < target.high)
            }
        }
    }

    /// Parses `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDThh:mm(:ss(.fff))(Z|±hh:mm)`.
    static func dateRange(_ text: String) -> DateRange? {
        let scalars = Array(text)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= scalars.count else { return nil }
            return Int(String(scalars[from..<(from + count)]))
        }
        guard let year = number(0, 4) else { return nil }
        var components = DateComponents(calendar: Calendar(identifier: .gregorian), timeZone: TimeZone(identifier: "UTC"), year: year, month: 1, day: 1)
        var unit: Calendar.Component = .year
        if scalars.count >= 7 { guard let month = number(5, 2) else { return nil }; components.month = month; unit = .month }
        if scalars.count >= 10 { guard let day = number(8, 2) else { return nil }; components.day = day; unit = .day }
        var offset = 0
        var fraction = 0.0
        var fractionDigits = 0
        if scalars.count > 10 {
            guard scalars[10] == "T", let hour = number(11, 2), let minute = number(14, 2) else { return nil }
            components.hour = hour
            components.minute = minute
            unit = .minute
            var index = 16
            if index < scalars.count, scalars[index] == ":" {
                guard let second = number(17, 2) else { return nil }
                components.second = second
                unit = .second
                index = 19
                if index < scalars.count, scalars[index] == "." {
                    index += 1
                    var digits = ""
                    while index < scalars.count, scalars[index].isNumber { digits.append(scalars[index]); index += 1 }
                    fractionDigits = digits.count
                    fraction = Double("0." + digits) ?? 0
                }
            }
            if index < scalars.count {
                if scalars[index] == "Z" {
                    offset = 0
                } else {
                    guard let hours = number(index + 1, 2), let minutes = number(index + 4, 2) else { return nil }
                    offset = (hours * 3600 + minutes * 60) * (scalars[index] == "-" ? -1 : 1)
                }
            }
        }
        guard let start = components.date else { return nil }
        let low = start.timeIntervalSince1970 - Double(offset) + fraction
        if fractionDigits > 0 { return DateRange(low: low, high: low + pow(10, -Double(fractionDigits))) }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        guard let end = calendar.date(byAdding: unit, value: 1, to: start) else { return nil }
        return DateRange(low: low, high: end.timeIntervalSince1970 - Double(offset))
    }

    /// A Period's range: from its start's low to its end's high (open ends unbounded).
    static func periodRange(_ period: JSONValue) -> DateRange? {
        let low = period["start"]?.stringValue.flatMap(dateRange)?.low ?? -Double.infinity
        let high = period["end"]?.stringValue.flatMap(dateRange)?.high ?? Double.infinity
        if low == -.infinity && high == .infinity { return nil }
        return DateRange(low: low, high: high)
    }

    /// `YYYY-MM-DD` of a day (UTC) offset from a moment.
    static func day(_ seconds: Double, plusDays days: Int = 0) -> String {
        let formatter = DateFormatter()
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: Date(timeIntervalSince1970: seconds + Double(days) * 86_400))
    }

    /// The first day at or after `seconds` whose widened range (±14 h, the zone extremes) holds
    /// none of `ranges`, so that a day-precision search value on it cannot depend on the zone
    /// a server assumes.
    static func quietDay(from seconds: Double, avoiding ranges: [DateRange]) -> String {
        var candidate = floor(seconds / 86_400) * 86_400
        while true {
            let widened = DateRange(low: candidate - 14 * 3600, high: candidate + 86_400 + 14 * 3600)
            if !ranges.contains(where: { $0.high > widened.low && $0.low < widened.high }) { return day(candidate) }
            candidate += 86_400
        }
    }

    // MARK: - Numbers

    static func decimal(_ value: JSONValue?) -> Decimal? {
        guard let lexical = value?.numberLexical ?? value?.stringValue else { return nil }
        return Decimal(string: lexical, locale: Locale(identifier: "en_US_POSIX"))
    }

    /// The range a decimal search value stands for at its precision: `5.4` is [5.35, 5.45).
    static func implicitRange(_ lexical: String) -> (low: Decimal, high: Decimal)? {
        guard let value = Decimal(string: lexical, locale: Locale(identifier: "en_US_POSIX")) else { return nil }
        let decimals = lexical.split(separator: ".").dropFirst().first?.count ?? 0
        var half = Decimal(5)
        for _ in 0...decimals { half /= 10 }
        return (value - half, value + half)
    }

    // MARK: - The client side

    /// Every page of a search, followed through `next` links.
    struct Pages: Sendable {
        var responses: [FHIRTestResponse] = []
        var bundles: [JSONValue] = []

        var entries: [JSONValue] { bundles.flatMap { $0["entry"]?.arrayValue ?? [] } }

        func entries(mode: String) -> [JSONValue] {
            entries.filter { ($0["search"]?["mode"]?.stringValue ?? "match") == mode }
        }

        /// Resources of the matches, in order.
        var matches: [JSONValue] { entries(mode: "match").compactMap { $0["resource"] } }
        var includes: [JSONValue] { entries(mode: "include").compactMap { $0["resource"] } }
        var outcomes: [JSONValue] { entries(mode: "outcome").compactMap { $0["resource"] } }

        /// `Type/id` of the matches, in order (duplicates kept).
        var matchReferences: [String] { matches.map(SyntheaSearchData.reference(of:)) }
        var matchSet: Set<String> { Set(matchReferences) }
        var includeSet: Set<String> { Set(includes.map(SyntheaSearchData.reference(of:))) }
        var first: JSONValue? { bundles.first }
    }

    /// Walks every page of `path`; each must be a 200 searchset. At most `maxPages` pages.
    static func search(
        _ client: any TestClientProtocol, _ path: String, headers: HTTPFields = [:], maxPages: Int = 200,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Pages {
        var pages = Pages()
        var next: String? = path
        while let url = next {
            let response = try await client.send(.get, url, headers: headers)
            try #require(response.status == .ok, "GET \(url) → \(response.status): \(response.text.prefix(400))", sourceLocation: sourceLocation)
            let bundle = try response.json
            try #require(bundle["type"] == "searchset", "GET \(url) is not a searchset", sourceLocation: sourceLocation)
            pages.responses.append(response)
            pages.bundles.append(bundle)
            next = nextLink(bundle)
            try #require(pages.bundles.count <= maxPages, "more than \(maxPages) pages for \(path)", sourceLocation: sourceLocation)
        }
        return pages
    }

    /// Searches `path` (all pages) and expects exactly `expected` as matches, each once. Unless
    /// `allowEmpty`, an empty expectation stops the test: it would prove nothing.
    @discardableResult
    static func expectMatches(
        _ client: any TestClientProtocol, _ path: String, _ expected: Set<String>, allowEmpty: Bool = false,
        headers: HTTPFields = [:], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Pages {
        if !allowEmpty {
            try #require(!expected.isEmpty, "the expectation for \(path) is empty: the test data proves nothing", sourceLocation: sourceLocation)
        }
        let pages = try await search(client, path, headers: headers, sourceLocation: sourceLocation)
        let found = pages.matchReferences
        #expect(found.count == Set(found).count, "\(path) returned a match twice", sourceLocation: sourceLocation)
        let missing = expected.subtracting(found)
        let unexpected = Set(found).subtracting(expected)
        #expect(
            missing.isEmpty && unexpected.isEmpty,
            "\(path): expected \(expected.count), got \(Set(found).count); missing \(missing.count) \(missing.sorted().prefix(4)), unexpected \(unexpected.count) \(unexpected.sorted().prefix(4))",
            sourceLocation: sourceLocation)
        return pages
    }

    /// The `next` link of a Bundle as a path from `/fhir` on.
    static func nextLink(_ bundle: JSONValue) -> String? {
        guard let url = bundle["link"]?.arrayValue?.first(where: { $0["relation"] == "next" })?["url"]?.stringValue else { return nil }
        return localPath(url)
    }

    static func localPath(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return "/" }
        return String(rest[slash...])
    }

    /// A query string from name/value pairs, every value percent-encoded as a careful client does.
    static func query(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(encode($0.0, keeping: ":._-"))=\(encode($0.1))" }.joined(separator: "&")
    }

    static func encode(_ text: String, keeping extra: String = "-._~") -> String {
        var allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        allowed.insert(charactersIn: extra)
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// A literal as a search value: `\`, `,`, `$` and `|` escaped with `\` (R4 search, "Escaping Search Parameters").
    static func escaped(_ value: String) -> String {
        var result = ""
        for character in value {
            if "\\,$|".contains(character) { result.append("\\") }
            result.append(character)
        }
        return result
    }

    /// A search path: `/fhir/Type?query`.
    static func path(_ type: String, _ pairs: [(String, String)]) -> String {
        pairs.isEmpty ? "/fhir/\(type)" : "/fhir/\(type)?\(query(pairs))"
    }

    /// Whether a resource carries the SUBSETTED tag.
    static func isSubsetted(_ resource: JSONValue) -> Bool {
        values(resource, "meta.tag").contains { $0["code"] == "SUBSETTED" }
    }
}
