import FHIRModels
import Foundation
import Testing
@testable import Server

@Suite struct EncryptionPolicyTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let policyFile = repositoryRoot.appendingPathComponent("profiles/encryption-policy.json")

    /// The binary's copy must be the file, or an edit to the policy would silently not ship.
    @Test func embeddedCopyEqualsTheFileOnDisk() throws {
        let onDisk = try String(contentsOf: Self.policyFile, encoding: .utf8)
        #expect(
            EmbeddedEncryptionPolicy.json == onDisk,
            "Sources/Server/Encryption/EmbeddedEncryptionPolicy.swift is stale: run python3 scripts/embed-encryption-policy.py")
        #expect(try EncryptionPolicy(json: Array(onDisk.utf8)) == EncryptionPolicy.standard)
    }

    /// A misspelt path would seal nothing and nobody would notice: every path must name real
    /// elements of that resource type in FHIR R4.
    @Test func everyPathNamesRealElements() throws {
        let policy = EncryptionPolicy.standard
        #expect(policy.listedTypes.count >= 10)
        let everyType = policy.paths(for: "NoSuchTypeUsesStar")
        #expect(everyType == ["text", "note"])
        for type in policy.listedTypes {
            let resource = try #require(FHIRMetadata.resource(named: type), "\(type) is not an R4 resource type")
            for path in policy.paths(for: type) where !everyType.contains(path) {
                #expect(Self.resolves(path, in: resource), "\(type).\(path) is not an element path")
            }
        }
        // `*` paths apply where the element exists: text on every DomainResource, note on fewer.
        let minimumUsers = ["text": 140, "note": 35]
        for path in everyType {
            let users = FHIRMetadata.resourceTypeNames.filter { name in
                FHIRMetadata.resource(named: name).map { Self.resolves(path, in: $0) } ?? false
            }
            #expect(users.count >= minimumUsers[path] ?? 1, "* path \(path) exists on only \(users.count) types")
        }
    }

    static func resolves(_ path: String, in root: TypeInfo) -> Bool {
        var type: TypeInfo? = root
        for component in path.split(separator: ".") {
            guard let current = type,
                  let element = current.elements.first(where: { $0.name == component }),
                  let typeName = element.types.first
            else { return false }
            type = FHIRMetadata.type(named: typeName)
        }
        return true
    }

    @Test func defaultSealsWhatTheDesignAsksFor() {
        let policy = EncryptionPolicy.standard
        for type in ["Patient", "Practitioner", "RelatedPerson"] {
            #expect(policy.paths(for: type).starts(with: ["text", "note"]))
            #expect(policy.paths(for: type).contains("telecom"))
            #expect(policy.paths(for: type).contains("address"))
        }
        #expect(policy.paths(for: "Patient").contains("contact"))
        #expect(policy.paths(for: "Observation") == ["text", "note"])
        #expect(policy.paths(for: "Composition").contains("section"))
        #expect(policy.paths(for: "MedicationRequest").contains("dosageInstruction.patientInstruction"))
        #expect(policy.paths(for: "Claim").contains("insurance.preAuthRef"))
        #expect(!policy.paths(for: "Patient").contains("name"))
        #expect(!policy.paths(for: "Patient").contains("identifier"))
    }

    @Test func overrideFileReplacesTheDefault() throws {
        let directory = try TemporaryDirectory.make(prefix: "medrec-policy")
        let path = directory + "/policy.json"
        try Data(#"{"*": ["text"], "Observation": ["valueString", "text"]}"#.utf8).write(to: URL(fileURLWithPath: path))
        let policy = try EncryptionPolicy.configured(environment: ["MEDREC_ENCRYPTION_POLICY": path])
        #expect(policy.paths(for: "Observation") == ["text", "valueString"])
        #expect(policy.paths(for: "Patient") == ["text"])
        #expect(try EncryptionPolicy.configured(environment: [:]) == .standard)
    }

    @Test func malformedPoliciesAreRefusedWithAReason() {
        let cases: [(String, String)] = [
            (#"["text"]"#, "must be a JSON object"),
            (#"{"Patient": "telecom"}"#, "must be an array"),
            (#"{"Patient": [1]}"#, "only strings"),
            (#"{"Patient": ["telecom..value"]}"#, "invalid path"),
            (#"{"Patient": ["_birthDate"]}"#, "invalid path"),
            (#"{"Patient": ["value[x]"]}"#, "invalid path"),
            (#"{"*": ["meta"]}"#, "cannot seal meta"),
            (#"{"Patient": ["id"]}"#, "cannot seal id"),
            (#"{"Patient": ["a"], "Patient": ["b"]}"#, "not valid JSON"),
        ]
        for (json, reason) in cases {
            let error = #expect(throws: EncryptionConfigurationError.self) {
                _ = try EncryptionPolicy(json: Array(json.utf8))
            }
            #expect(error?.message.contains(reason) == true)
        }
    }
}
