import Foundation
import Mapping

/// The list filters of one platform collection, and the FHIR search each becomes. Values are
/// checked here (400 `bad_parameter` naming the filter), then run by the search engine.
struct PlatformFilters: Sendable {
    enum Filter: Sendable {
        /// Prefix match on any part of a name (`name`), case- and accent-insensitive.
        case name
        /// An exact date on a date parameter (`birthdate=eqYYYY-MM-DD`).
        case date(param: String)
        /// A platform id as a reference (`subject=Patient/{id}`).
        case reference(param: String, type: String)
        /// The platform status of an appointment, as the Encounter statuses that read as it.
        case appointmentStatus
        /// Appointments whose `dateTime` (Encounter.period.start) is at or after / before a time.
        case from, to
    }

    /// The searches of one list request, built from its filters.
    struct Search: Sendable {
        var items: [(key: String, value: String)] = []
        var conditions: [SearchCondition] = []
    }

    let filters: [String: Filter]

    static func of(collection: String) -> PlatformFilters {
        switch collection {
        case "patients": PlatformFilters(filters: ["name": .name, "dateOfBirth": .date(param: "birthdate")])
        case "doctors": PlatformFilters(filters: ["name": .name])
        case "appointments":
            PlatformFilters(filters: [
                "patientId": .reference(param: "subject", type: "Patient"),
                "doctorId": .reference(param: "participant", type: "Practitioner"),
                "status": .appointmentStatus, "from": .from, "to": .to,
            ])
        case "medical-records", "prescriptions": PlatformFilters(filters: ["patientId": .reference(param: "subject", type: "Patient")])
        case "billings": PlatformFilters(filters: ["patientId": .reference(param: "patient", type: "Patient")])
        default: PlatformFilters(filters: [:])
        }
    }

    /// Encounter statuses by platform status (reads map the same way).
    static let appointmentStatuses: [String: [String]] = [
        "scheduled": ["planned", "arrived", "triaged", "in-progress", "onleave"],
        "completed": ["finished"],
        "canceled": ["cancelled"],
    ]

    func apply(_ name: String, _ value: String, to search: inout Search) throws {
        guard let filter = filters[name] else {
            let known = (["limit", "cursor"] + filters.keys.sorted()).joined(separator: ", ")
            throw Self.badParameter(String(name.prefix(64)), "is not a filter of this list; use \(known)")
        }
        switch filter {
        case .name:
            let text = value.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty, text.count <= 100 else { throw Self.badParameter(name, "must be 1 to 100 characters") }
            search.items.append(("name", Self.escaped(text)))
        case .date(let param):
            guard PlatformFormat.isDate(value) else { throw Self.badParameter(name, "must be a date YYYY-MM-DD") }
            search.items.append((param, "eq" + value))
        case .reference(let param, let type):
            guard FHIRRequest.isValidID(value) else { throw Self.badParameter(name, "is not a valid id") }
            search.items.append((param, "\(type)/\(value)"))
        case .appointmentStatus:
            guard let statuses = Self.appointmentStatuses[value] else {
                throw Self.badParameter(name, "must be one of scheduled, completed, canceled")
            }
            search.items.append(("status", statuses.joined(separator: ",")))
        case .from, .to:
            guard let instant = PlatformDates.instant(value) else {
                throw Self.badParameter(name, "must be a date YYYY-MM-DD or a date-time with a zone")
            }
            let param = SearchIndexKey.param(type: "Encounter", code: "date")
            // On the period's start: `sa` with an empty span at `instant` is low >= instant; `lt` is low < instant.
            let test = SearchCondition.DateTest(prefix: filter.isFrom ? .sa : .lt, low: instant, high: instant)
            search.conditions.append(.dateRange(param: param, [test]))
        }
    }

    /// Commas, pipes and backslashes are literal in a platform filter, not FHIR search syntax.
    static func escaped(_ text: String) -> String {
        var result = ""
        for character in text {
            if character == "\\" || character == "," || character == "|" || character == "$" { result.append("\\") }
            result.append(character)
        }
        return result
    }

    static func badParameter(_ field: String, _ issue: String) -> APIError {
        APIError(.badRequest, code: "bad_parameter", "a query parameter is not valid", details: [.init(field: field, issue: issue)])
    }
}

extension PlatformFilters.Filter {
    var isFrom: Bool {
        if case .from = self { return true }
        return false
    }
}
