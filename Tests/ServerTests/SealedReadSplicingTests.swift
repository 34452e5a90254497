import FHIRModels
import FixtureSupport
import Foundation
import Testing
@testable import Server

/// The read fast path (append top-level sealed members to the stored text) gives the same
/// resource as the full unseal, and steps aside whenever it cannot be sure.
@Suite struct SealedReadSplicingTests {
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func splicingEqualsFullUnsealOnSyntheaAndHL7Resources() throws {
        let sealer = try TestApp.makeSealer()
        var spliced = 0
        var fallbacks = 0
        let files = Fixtures.files(in: "synthea", withExtension: "json").prefix(5)
        var resources: [JSONValue] = []
        for file in files {
            resources += try FHIRJSON.parse(Data(contentsOf: file))["entry"]?.arrayValue?.compactMap { $0["resource"] } ?? []
        }
        for file in Fixtures.files(in: "hl7-examples/json", withExtension: "json") {
            let resource = try FHIRJSON.parse(Data(contentsOf: file))
            if resource["resourceType"] != "Bundle" { resources.append(resource) }
        }
        for resource in resources {
            let type = try #require(resource["resourceType"]?.stringValue)
            let sealed = try sealer.seal(resource: resource, type: type, id: "x1", versionID: 3)
            guard let payload = sealed.sealed, let keyID = sealed.keyID else { continue }
            let stored = FHIRJSON.serialize(sealed.content)
            if let fast = try sealer.unsealSplicing(contentJSON: stored, sealed: payload, keyID: keyID, type: type, id: "x1", versionID: 3) {
                #expect(try FHIRJSON.parse(fast).isEquivalent(to: resource))
                spliced += 1
            } else {
                fallbacks += 1
            }
            // Bound to the row like the full path.
            #expect(throws: SealingError.self) {
                _ = try sealer.unsealSplicing(contentJSON: stored, sealed: payload, keyID: keyID, type: type, id: "x2", versionID: 3)
            }
        }
        #expect(spliced > Fixtures.expected(full: 40, vendored: 12), "patients, practitioners and narratives of five Synthea bundles and the HL7 examples")
        #expect(fallbacks > 0, "resources with nested sealed paths take the full path")
    }

    @Test func aClearPartThatAlreadyNamesASealedKeyTakesTheCarefulPath() throws {
        let sealer = try TestApp.makeSealer()
        let patient: JSONValue = ["resourceType": "Patient", "telecom": [["system": "phone", "value": "555"]]]
        let sealed = try sealer.seal(resource: patient, type: "Patient", id: "p", versionID: 1)
        // Someone with database write access adds a forged telecom to the clear part.
        var forged = try #require(sealed.content.objectValue)
        forged["telecom"] = [["system": "phone", "value": "999"]]
        let stored = FHIRJSON.serialize(.object(forged))
        let fast = try sealer.unsealSplicing(
            contentJSON: stored, sealed: try #require(sealed.sealed), keyID: try #require(sealed.keyID),
            type: "Patient", id: "p", versionID: 1)
        #expect(fast == nil)
        #expect(throws: SealingError.self) {
            _ = try sealer.unseal(content: .object(forged), sealed: sealed.sealed, keyID: sealed.keyID, type: "Patient", id: "p", versionID: 1)
        }
    }
}
