import FHIRModels
import FixtureSupport
import Foundation

/// The third-party resources of one type the mapping must read and merge over without loss:
/// every one in the Synthea transaction bundles, and the HL7 R4 examples (standalone files
/// and the entries of example bundles).
struct FixtureResource {
    let source: String
    let resource: JSONValue


    static func all(ofType type: String) throws -> [FixtureResource] {
        try synthea(ofType: type) + hl7Examples(ofType: type)
    }

    /// Synthea bundles, with `urn:uuid:` references resolved to `Type/id` as a transaction
    /// would store them.
    static func synthea(ofType type: String) throws -> [FixtureResource] {
        try Fixtures.files(in: "synthea", withExtension: "json").flatMap { url -> [FixtureResource] in
            let bundle = try FHIRJSON.parse(Data(contentsOf: url))
            let entries = bundle["entry"]?.arrayValue ?? []
            var targets: [String: String] = [:]
            for entry in entries {
                if let fullURL = entry["fullUrl"]?.stringValue, let resource = entry["resource"],
                   let resourceType = resource["resourceType"]?.stringValue, let id = resource["id"]?.stringValue {
                    targets[fullURL] = "\(resourceType)/\(id)"
                }
            }
            return entries.enumerated().compactMap { index, entry in
                guard let resource = entry["resource"], resource["resourceType"]?.stringValue == type else { return nil }
                return FixtureResource(
                    source: "synthea/\(url.lastPathComponent)#\(index)",
                    resource: resource.replacingReferences(targets)
                )
            }
        }
    }

    static func hl7Examples(ofType type: String) throws -> [FixtureResource] {
        try Fixtures.files(in: "hl7-examples/json", withExtension: "json").flatMap { url -> [FixtureResource] in
            let resource = try FHIRJSON.parse(Data(contentsOf: url))
            let name = "hl7-examples/\(url.lastPathComponent)"
            if resource["resourceType"]?.stringValue == type {
                return [FixtureResource(source: name, resource: resource)]
            }
            guard resource["resourceType"]?.stringValue == "Bundle" else { return [] }
            return (resource["entry"]?.arrayValue ?? []).enumerated().compactMap { index, entry in
                guard let nested = entry["resource"], nested["resourceType"]?.stringValue == type else { return nil }
                return FixtureResource(source: "\(name)#\(index)", resource: nested)
            }
        }
    }
}
