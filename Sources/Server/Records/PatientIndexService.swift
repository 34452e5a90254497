import FHIRModels
import Foundation
import Mapping

/// The hospital's patient index: a doctor finds any patient by name, birth date or identifier,
/// care relationship or not, to then open the chart (with break-glass when there is none). It
/// shows who a patient is (id, name, birth date, gender, identifiers), nothing clinical and no
/// contact data, and grants nothing: reading the Patient resource or anything in the record
/// stays `RecordService`'s decision. Every use is audited as a search of Patient, with the
/// query and the patients found; anyone but a doctor is refused (`AccessControl.mayUsePatientIndex`),
/// audited as a denial.
public struct PatientIndexService: Sendable {
    let store: any ResourceStore
    let security: SecurityServices

    public init(store: any ResourceStore, security: SecurityServices) {
        self.store = store
        self.security = security
    }

    /// What a doctor may look for; at least one is required. All given must match.
    public struct Query: Sendable {
        /// Any part of a name, prefix match (case- and accent-insensitive), 1…100 characters.
        public var name: String?
        /// YYYY-MM-DD.
        public var birthDate: String?
        /// An identifier's value (e.g. an MRN), any system.
        public var identifier: String?

        public init(name: String? = nil, birthDate: String? = nil, identifier: String? = nil) {
            self.name = name
            self.birthDate = birthDate
            self.identifier = identifier
        }

        public var isEmpty: Bool { name == nil && birthDate == nil && identifier == nil }
    }

    /// One patient as the index shows them.
    public struct Entry: Sendable, Equatable {
        public let id: String
        public let name: String?
        public let birthDate: String?
        public let gender: String?
        /// Each identifier as its type's text (or system) and value.
        public let identifiers: [(label: String?, value: String)]

        public static func == (a: Entry, b: Entry) -> Bool {
            a.id == b.id && a.name == b.name && a.birthDate == b.birthDate && a.gender == b.gender
                && a.identifiers.map(\.value) == b.identifiers.map(\.value)
        }
    }

    /// The query's fields that are not valid, by field.
    public struct InvalidQuery: Error, Sendable {
        public let issues: [FieldIssue]
    }

    public static let maxResults = 50

    public func search(_ query: Query, limit: Int = 20, as caller: Caller) async throws -> [Entry] {
        let access = AuditedAccess(try await security.confirmed(caller), security: security)
        let items = try Self.items(query, limit: min(max(limit, 1), Self.maxResults))
        let queryText = String(items.map { "\($0.key)=\($0.value)" }.joined(separator: "&").prefix(2048))
        guard access.access.mayUsePatientIndex else {
            try await security.audit.record(access.record(
                .searchType, type: "Patient", decision: .deny("patient index: doctors only"), query: queryText))
            throw AccessDenied(.forbidden, "the patient index is for doctors")
        }
        let parser = SearchQueryParser(baseURL: "", strict: true, maxCount: Self.maxResults)
        let parsed = try parser.parse(types: ["Patient"], items: items)
        let page = try await store.search(parsed)
        var entries: [Entry] = []
        for stored in page.entries where stored.type == "Patient" {
            guard let resource = try stored.resource() else { continue }
            entries.append(Self.entry(id: stored.id, resource))
        }
        try await security.audit.record(access.record(
            .searchType, type: "Patient", patients: Set(entries.map(\.id)), description: "patient index", query: queryText))
        return entries
    }

    /// The FHIR search items of a query; `InvalidQuery` names the bad fields.
    static func items(_ query: Query, limit: Int) throws -> [(key: String, value: String)] {
        var issues: [FieldIssue] = []
        var items: [(key: String, value: String)] = []
        if let name = query.name {
            if name.count > 100 { issues.append(.init(field: "name", issue: "must be at most 100 characters")) }
            else { items.append(("name", PlatformFilters.escaped(name))) }
        }
        if let date = query.birthDate {
            if PlatformFormat.isDate(date) { items.append(("birthdate", "eq" + date)) }
            else { issues.append(.init(field: "birthDate", issue: "must be a date YYYY-MM-DD")) }
        }
        if let identifier = query.identifier {
            if identifier.count > 100 { issues.append(.init(field: "identifier", issue: "must be at most 100 characters")) }
            else { items.append(("identifier", PlatformFilters.escaped(identifier))) }
        }
        if query.isEmpty { issues.append(.init(field: "name", issue: "enter a name, a birth date or an identifier")) }
        if !issues.isEmpty { throw InvalidQuery(issues: issues) }
        items.append(("_count", String(limit)))
        return items
    }

    /// The index view of a Patient: never its contact data, links, or anything clinical.
    static func entry(id: String, _ resource: JSONValue) -> Entry {
        let names = resource["name"]?.arrayValue ?? []
        var name: String? = nil
        if let chosen = names.first(where: { $0["use"]?.stringValue == "official" }) ?? names.first {
            if let text = chosen["text"]?.stringValue, !text.isEmpty {
                name = text
            } else {
                let given = (chosen["given"]?.arrayValue ?? []).compactMap(\.stringValue)
                let parts = given + [chosen["family"]?.stringValue].compactMap { $0 }
                name = parts.isEmpty ? nil : parts.joined(separator: " ")
            }
        }
        let identifiers: [(label: String?, value: String)] = (resource["identifier"]?.arrayValue ?? []).compactMap { identifier in
            guard let value = identifier["value"]?.stringValue, !value.isEmpty else { return nil }
            let type = identifier["type"]
            let label = type?["text"]?.stringValue
                ?? type?["coding"]?.arrayValue?.first?["display"]?.stringValue
                ?? identifier["system"]?.stringValue
            return (label, value)
        }
        return Entry(
            id: id, name: name, birthDate: resource["birthDate"]?.stringValue, gender: resource["gender"]?.stringValue,
            identifiers: identifiers)
    }
}
