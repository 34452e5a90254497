import FHIRModels
import Foundation

/// Which elements are sealed (encrypted) per resource type. Kept as data
/// (`profiles/encryption-policy.json`, embedded in the binary) so that a deployment can
/// review and change it without touching code.
///
/// A path is dotted element names from the resource root (`dosageInstruction.text`); a step
/// through an array applies to every item. Sealing an element also seals its `_name`
/// primitive-extension twin. The `*` entry applies to every resource type.
public struct EncryptionPolicy: Sendable, Equatable {
    /// Paths per type, `*` merged in, as components (`["dosageInstruction", "text"]`).
    private let merged: [String: [[String]]]
    private let everyType: [[String]]

    /// Parses the policy document: an object from resource type (or `*`) to an array of dotted paths.
    public init(json bytes: [UInt8]) throws(EncryptionConfigurationError) {
        let document: JSONValue
        do {
            document = try FHIRJSON.parse(bytes)
        } catch {
            throw EncryptionConfigurationError("the encryption policy is not valid JSON: \(error.message)")
        }
        guard let object = document.objectValue else {
            throw EncryptionConfigurationError("the encryption policy must be a JSON object from resource type to paths")
        }
        var perType: [String: [[String]]] = [:]
        for (type, value) in object {
            guard let items = value.arrayValue else {
                throw EncryptionConfigurationError("encryption policy entry \(type) must be an array of paths")
            }
            var paths: [[String]] = []
            for item in items {
                guard let path = item.stringValue else {
                    throw EncryptionConfigurationError("encryption policy entry \(type) must contain only strings")
                }
                let components = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                let valid = components.allSatisfy { component in
                    !component.isEmpty && !component.hasPrefix("_")
                        && component.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
                }
                guard valid else {
                    throw EncryptionConfigurationError(
                        "encryption policy entry \(type) has an invalid path \"\(path)\": use dotted element names")
                }
                // The store stamps and reads these; sealing them would break every read and search.
                guard !["resourceType", "id", "meta"].contains(components[0]) else {
                    throw EncryptionConfigurationError(
                        "encryption policy entry \(type) cannot seal \(components[0]): the store needs it in plain")
                }
                if !paths.contains(components) { paths.append(components) }
            }
            perType[type] = paths
        }
        let star = perType.removeValue(forKey: "*") ?? []
        var merged: [String: [[String]]] = [:]
        for (type, paths) in perType {
            merged[type] = star + paths.filter { !star.contains($0) }
        }
        self.everyType = star
        self.merged = merged
    }

    /// The paths sealed in resources of `type`, dotted, `*` entries first.
    public func paths(for type: String) -> [String] {
        components(for: type).map { $0.joined(separator: ".") }
    }

    func components(for type: String) -> [[String]] {
        merged[type] ?? everyType
    }

    /// Types listed explicitly (not `*`), for checks against the FHIR metadata.
    var listedTypes: [String] { merged.keys.sorted() }

    /// Whether `type` seals the top-level element `name` (e.g. `telecom`), which decides blind indexes.
    func seals(element name: String, in type: String) -> Bool {
        components(for: type).contains([name])
    }

    /// The policy built into the binary: `profiles/encryption-policy.json`.
    public static let standard: EncryptionPolicy = {
        do {
            return try EncryptionPolicy(json: Array(EmbeddedEncryptionPolicy.json.utf8))
        } catch {
            fatalError("the embedded encryption policy does not parse: \(error)")
        }
    }()

    /// The policy file named by `MEDREC_ENCRYPTION_POLICY` in the environment alone, or the built-in one.
    public static func configured(environment: [String: String]) throws(EncryptionConfigurationError) -> EncryptionPolicy {
        try configured(settings: EncryptionSettings(environment: environment))
    }

    /// The configured policy file (`MEDREC_ENCRYPTION_POLICY`, `medrec.encryption.policy`), or the built-in one.
    public static func configured(settings: EncryptionSettings) throws(EncryptionConfigurationError) -> EncryptionPolicy {
        guard let path = settings.policyFile else { return standard }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw EncryptionConfigurationError("cannot read the encryption policy \(path) (MEDREC_ENCRYPTION_POLICY)")
        }
        return try EncryptionPolicy(json: Array(data))
    }
}
