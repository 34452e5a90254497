import FHIRModels
import Foundation
import Mapping

/// The doctor directory as patients and billing staff see it: who a doctor is, what they do and
/// when they work, without their private data. One place, applied by the services to every read
/// path of both faces (read, vread, history, search matches and includes, Bundle entries), so no
/// face can forget it; doctors, admins and system clients get the whole record
/// (`AccessControl.seesDirectoryView`).
///
/// The view keeps a list of elements rather than dropping a list of private ones, so an element
/// another system adds (a home phone in an extension, a photo, an SSN identifier) stays out by
/// default. It is marked `SUBSETTED` (`meta.tag`), as FHIR asks of any resource sent incomplete.
///
/// Searches by those callers may use only the parameters of elements the view keeps: a search
/// by `phone=` or `address-city=` would tell them, match by match, what the view hides. Reverse
/// chains (`_has`) into the directory are refused to every caller without clinical access
/// (patients, billing, admins): `Practitioner?_has:Encounter:practitioner:subject=…` would name
/// another patient's doctors.
enum DirectoryView {
    /// Top-level elements the view keeps, per type.
    static let keptElements: [String: Set<String>] = [
        // Not: identifier, telecom, address, gender, birthDate, photo, text (narrative restates the
        // rest), contained, other systems' extensions.
        "Practitioner": [
            "resourceType", "id", "meta", "implicitRules", "language", "active", "name", "qualification", "communication",
            "extension", "modifierExtension",
        ],
        // Not: identifier, telecom, endpoint, text, contained, other systems' extensions.
        "PractitionerRole": [
            "resourceType", "id", "meta", "implicitRules", "language", "active", "period", "practitioner", "organization",
            "code", "specialty", "location", "healthcareService", "availableTime", "notAvailable", "availabilityExceptions",
            "extension", "modifierExtension",
        ],
    ]
    /// Extensions the view keeps: the platform's working hours. (`modifierExtension` stays
    /// whole: dropping a modifier would change what the rest means.)
    static let keptExtensions: Set<String> = [PlatformProfiles.workSchedule]

    /// Search parameters on the elements the view keeps, per type.
    static let searchParameters: [String: Set<String>] = [
        "Practitioner": ["name", "family", "given", "phonetic", "active", "communication"],
        "PractitionerRole": ["active", "date", "practitioner", "organization", "role", "specialty", "service", "location"],
    ]
    private static let searchParameterKeys: [String: Set<Int64>] = Dictionary(uniqueKeysWithValues: searchParameters.map { type, codes in
        (type, Set(codes.map { SearchIndexKey.param(type: type, code: $0) }))
    })

    static let subsettedTag: JSONValue = .object([
        "system": .string("http://terminology.hl7.org/CodeSystem/v3-ObservationValue"),
        "code": .string("SUBSETTED"),
        "display": .string("subsetted"),
    ])

    /// The directory view of a Practitioner or PractitionerRole (other resources unchanged).
    static func redact(_ resource: JSONValue) -> JSONValue {
        guard let object = resource.objectValue, let type = object["resourceType"]?.stringValue,
              let kept = keptElements[type] else { return resource }
        var view = JSONObject()
        for (key, value) in object where kept.contains(key) {
            if key == "extension" {
                let extensions = (value.arrayValue ?? []).filter { keptExtensions.contains($0["url"]?.stringValue ?? "") }
                if !extensions.isEmpty { view.append(key: key, value: .array(extensions)) }
            } else if key == "meta" {
                view.append(key: key, value: tagged(value))
            } else {
                view.append(key: key, value: value)
            }
        }
        if view["meta"] == nil {
            // `meta` goes right after `id`, where FHIR JSON puts it.
            var ordered = JSONObject()
            for (key, value) in view {
                ordered.append(key: key, value: value)
                if key == "id" { ordered.append(key: "meta", value: tagged(.object([:]))) }
            }
            if ordered["meta"] == nil { ordered.append(key: "meta", value: tagged(.object([:]))) }
            view = ordered
        }
        return .object(view)
    }

    private static func tagged(_ meta: JSONValue) -> JSONValue {
        var object = meta.objectValue ?? JSONObject()
        var tags = object["tag"]?.arrayValue ?? []
        if !tags.contains(where: isSubsettedTag) { tags.append(subsettedTag) }
        object["tag"] = .array(tags)
        return .object(object)
    }

    static func isSubsettedTag(_ tag: JSONValue) -> Bool {
        tag["system"]?.stringValue == "http://terminology.hl7.org/CodeSystem/v3-ObservationValue" && tag["code"]?.stringValue == "SUBSETTED"
    }

    /// The same stored version with its JSON in the directory view.
    static func redact(_ stored: StoredResource) throws -> StoredResource {
        guard let resource = try stored.resource() else { return stored }
        return stored.replacingJSON(FHIRJSON.serialize(redact(resource)))
    }

    // MARK: - Searches

    /// Why `query` may not run for a caller who sees the directory view (`redacted`) or who has
    /// no clinical access (every caller this is asked for); nil when it may.
    static func refusal(of query: SearchQuery, redacted: Bool) -> String? {
        for target in query.targets {
            for condition in target.conditions {
                if let reason = refusal(of: condition, on: target.type, redacted: redacted) { return reason }
            }
            for key in query.sort {
                if case .index(_, _, _, let params) = key.source, redacted, isDirectory(target.type),
                   !params.allSatisfy({ allowed($0, on: target.type) }) {
                    return "the directory is not sorted by private elements"
                }
            }
        }
        return nil
    }

    private static func refusal(of condition: SearchCondition, on type: String, redacted: Bool) -> String? {
        func param(_ key: Int64) -> String? {
            redacted && isDirectory(type) && !allowed(key, on: type) ? "the directory is not searchable by private elements" : nil
        }
        switch condition {
        case .ids, .lastUpdated, .compartment, .caredFor, .none:
            return nil
        case .token(let hashes, _): return param(hashes.param)
        case .string(let key, _), .date(let key, _), .dateRange(let key, _), .number(let key, _), .quantity(let key, _),
             .reference(let key, _), .uri(let key, _):
            return param(key)
        case .missing(let rows, _):
            return rows.lazy.compactMap { param($0.param) }.first
        case .blind:
            return redacted && isDirectory(type) ? "the directory is not searchable by private elements" : nil
        case .chain(let key, let targets):
            if let reason = param(key) { return reason }
            return targets.lazy.compactMap { refusal(of: $0.condition, on: $0.type, redacted: redacted) }.first
        case .reverseChain(let sourceType, _, let inner):
            if isDirectory(type) { return "the directory is not searchable through the records that name it (_has)" }
            return refusal(of: inner, on: sourceType, redacted: redacted)
        case .tokenDate(_, _, let token, let date):
            return refusal(of: token, on: type, redacted: redacted) ?? refusal(of: date, on: type, redacted: redacted)
        }
    }

    private static func isDirectory(_ type: String) -> Bool {
        AccessControl.directoryTypes.contains(type)
    }

    private static func allowed(_ key: Int64, on type: String) -> Bool {
        searchParameterKeys[type]?.contains(key) ?? false
    }
}

extension StoredResource {
    /// This version with other JSON (a view of it), everything else kept.
    func replacingJSON(_ json: [UInt8]) -> StoredResource {
        var copy = StoredResource(
            type: type, id: id, versionID: versionID, lastUpdated: lastUpdated, deleted: deleted, json: json, method: method)
        copy.caredForPatients = caredForPatients
        copy.compartmentPatients = compartmentPatients
        copy.tokenConfirmation = tokenConfirmation
        copy.key = key
        return copy
    }
}
