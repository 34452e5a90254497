import FHIRModels
import FixtureSupport
import Foundation
import Testing
@testable import Server

@Suite struct EncryptionSealerTests {
    static let sealer = FieldSealer(policy: .standard, keyring: try! EncryptionTestData.keyring(["k1"]))

    // MARK: Fixtures

    struct Case {
        let label: String
        let type: String
        let id: String
        let resource: JSONValue
    }

    static func hl7Examples() throws -> [Case] {
        try Fixtures.files(in: "hl7-examples/json", withExtension: "json").compactMap { url in
            let resource = try FHIRJSON.parse(Data(contentsOf: url))
            let type = resource["resourceType"]?.stringValue ?? ""
            guard type != "Bundle" else { return nil }
            return Case(label: url.lastPathComponent, type: type, id: resource["id"]?.stringValue ?? "x", resource: resource)
        }
    }

    static func syntheaResources() throws -> [Case] {
        var cases: [Case] = []
        for url in Fixtures.files(in: "synthea", withExtension: "json") {
            let bundle = try FHIRJSON.parse(Data(contentsOf: url))
            for (index, entry) in (bundle["entry"]?.arrayValue ?? []).enumerated() {
                guard let resource = entry["resource"] else { continue }
                cases.append(Case(
                    label: "\(url.lastPathComponent) entry \(index)", type: resource["resourceType"]?.stringValue ?? "",
                    id: resource["id"]?.stringValue ?? "\(index)", resource: resource))
            }
        }
        return cases
    }

    /// The PHI strings a reader of `content` must not find, chosen by what DESIGN.md section 6
    /// promises rather than read from the policy (so a policy regression shows up here): phone
    /// numbers, emails and street lines of people, narrative and notes, contained resources included.
    static func sensitiveStrings(in resource: JSONValue) -> [String] {
        var found: [String] = []
        guard let type = resource["resourceType"]?.stringValue else { return found }
        if ["Patient", "Practitioner", "RelatedPerson", "Person"].contains(type) {
            found += (resource["telecom"]?.arrayValue ?? []).compactMap { $0["value"]?.stringValue }
            for address in resource["address"]?.arrayValue ?? [] {
                found += (address["line"]?.arrayValue ?? []).compactMap(\.stringValue)
                found += [address["text"]?.stringValue].compactMap { $0 }
            }
        }
        if type == "MedicationRequest" {
            for dosage in resource["dosageInstruction"]?.arrayValue ?? [] {
                found += [dosage["text"]?.stringValue, dosage["patientInstruction"]?.stringValue].compactMap { $0 }
            }
        }
        if let div = resource["text"]?["div"]?.stringValue { found.append(div) }
        found += (resource["note"]?.arrayValue ?? []).compactMap { $0["text"]?.stringValue }
        for contained in resource["contained"]?.arrayValue ?? [] {
            found += sensitiveStrings(in: contained)
        }
        return found
    }

    /// Seals and unseals every case; returns how many sensitive strings were checked.
    static func checkRoundTrips(_ cases: [Case]) throws -> (checked: Int, sealedCount: Int) {
        var checked = 0
        var sealedCount = 0
        for item in cases {
            let sealed = try sealer.seal(resource: item.resource, type: item.type, id: item.id, versionID: 1)
            if sealed.sealed != nil { sealedCount += 1 }
            let restored = try sealer.unseal(
                content: sealed.content, sealed: sealed.sealed, keyID: sealed.keyID,
                type: item.type, id: item.id, versionID: 1)
            // Exact, member order included: the payload records each member's position.
            #expect(restored == item.resource, "\(item.label) did not round-trip")
            let text = FHIRJSON.string(sealed.content)
            for secret in sensitiveStrings(in: item.resource) {
                checked += 1
                let quoted = FHIRJSON.string(.string(secret))
                let leaked = text.contains(quoted)
                #expect(!leaked, "\(item.label): a sealed string is still in the plain content")
            }
        }
        return (checked, sealedCount)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func everyHL7ExampleRoundTripsWithItsPHIRemoved() throws {
        let cases = try Self.hl7Examples()
        #expect(cases.count > Fixtures.expected(full: 100, vendored: 25))
        let (checked, sealedCount) = try Self.checkRoundTrips(cases)
        #expect(sealedCount > Fixtures.expected(full: 100, vendored: 25), "almost every example has narrative")
        #expect(checked > Fixtures.expected(full: 150, vendored: 40))
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func everySyntheaResourceRoundTripsWithItsPHIRemoved() throws {
        let cases = try Self.syntheaResources()
        #expect(cases.count > Fixtures.expected(full: 5_000, vendored: 1_000))
        let (checked, _) = try Self.checkRoundTrips(cases)
        #expect(checked > Fixtures.expected(full: 200, vendored: 40))
        // The patients' phone numbers and street lines really were among the checked strings.
        let patients = cases.filter { $0.type == "Patient" }
        #expect(patients.count == Fixtures.expected(full: 34, vendored: 8))
        for patient in patients {
            let strings = Self.sensitiveStrings(in: patient.resource)
            #expect(strings.contains { $0.contains("555") }, "\(patient.label) has no phone number to check")
        }
    }

    /// A Bundle stored as a resource (a document, say) keeps its entries' PHI sealed too.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func nestedResourcesAreSealedByTheirOwnType() throws {
        let url = try #require(Fixtures.files(in: "synthea", withExtension: "json").first)
        let bundle = try FHIRJSON.parse(Data(contentsOf: url))
        let sealed = try Self.sealer.seal(resource: bundle, type: "Bundle", id: "b", versionID: 3)
        let text = FHIRJSON.string(sealed.content)
        let patient = try #require(bundle["entry"]?.arrayValue?.compactMap { $0["resource"] }
            .first { $0["resourceType"]?.stringValue == "Patient" })
        let secrets = Self.sensitiveStrings(in: patient)
        #expect(secrets.count >= 3)
        for secret in secrets { #expect(!text.contains(FHIRJSON.string(.string(secret)))) }
        #expect(text.contains("\"birthDate\""), "plain elements stay in content")
        let restored = try Self.sealer.unseal(
            content: sealed.content, sealed: sealed.sealed, keyID: sealed.keyID, type: "Bundle", id: "b", versionID: 3)
        #expect(restored == bundle)
    }

    // MARK: Shape of the result

    @Test func sealedElementsAndTheirTwinsLeaveContentOthersStay() throws {
        let sealed = try Self.sealer.seal(resource: EncryptionTestData.patient, type: "Patient", id: "p1", versionID: 1)
        let content = try #require(sealed.content.objectValue)
        #expect(Array(content.keys) == ["resourceType", "id", "name", "gender", "_gender", "birthDate"])
        #expect(sealed.keyID == "k1")
        let payload = try #require(sealed.sealed)
        #expect(payload[0] == 1, "format version")
        let bytes = FHIRJSON.serialize(EncryptionTestData.patient)
        for secret in ["555", "Example.org", "Elm St"] {
            #expect(!String(decoding: payload, as: UTF8.self).contains(secret))
            #expect(String(decoding: bytes, as: UTF8.self).contains(secret))
        }
    }

    @Test func primitiveTwinsAndArrayItemsGoBackInPlace() throws {
        let request = try FHIRJSON.parse(#"""
            {"resourceType": "MedicationRequest", "id": "m", "status": "active",
             "dosageInstruction": [
               {"sequence": 1, "text": "one tablet at night", "_text": {"extension": [{"url": "http://x", "valueCode": "a"}]}},
               {"sequence": 2},
               {"patientInstruction": "with food", "text": "twice daily"}],
             "note": [{"text": "call if dizzy"}]}
            """#)
        let sealed = try Self.sealer.seal(resource: request, type: "MedicationRequest", id: "m", versionID: 7)
        let expectedContent = try FHIRJSON.parse(#"""
            {"resourceType": "MedicationRequest", "id": "m", "status": "active",
             "dosageInstruction": [{"sequence": 1}, {"sequence": 2}, {}]}
            """#)
        #expect(sealed.content == expectedContent)
        let restored = try Self.sealer.unseal(
            content: sealed.content, sealed: sealed.sealed, keyID: "k1", type: "MedicationRequest", id: "m", versionID: 7)
        #expect(restored == request)
    }

    @Test func nothingToSealMeansNoPayload() throws {
        let observation = try FHIRJSON.parse(#"{"resourceType": "Observation", "id": "o", "status": "final"}"#)
        let sealed = try Self.sealer.seal(resource: observation, type: "Observation", id: "o", versionID: 1)
        #expect(sealed.sealed == nil)
        #expect(sealed.keyID == nil)
        #expect(sealed.content == observation)
        #expect(try Self.sealer.unseal(
            content: sealed.content, sealed: nil, keyID: nil, type: "Observation", id: "o", versionID: 1) == observation)
    }

    @Test func everySealUsesAFreshNonce() throws {
        let a = try Self.sealer.seal(resource: EncryptionTestData.patient, type: "Patient", id: "p1", versionID: 1)
        let b = try Self.sealer.seal(resource: EncryptionTestData.patient, type: "Patient", id: "p1", versionID: 1)
        #expect(a.sealed != b.sealed)
        #expect(a.sealed?[1..<13] != b.sealed?[1..<13])
    }

    // MARK: Failing closed

    static func sealedPatient() throws -> SealedResource {
        try sealer.seal(resource: EncryptionTestData.patient, type: "Patient", id: "p1", versionID: 2)
    }

    @Test func aPayloadOpensOnlyForItsOwnTypeIdAndVersion() throws {
        let sealed = try Self.sealedPatient()
        for (type, id, version) in [("Patient", "p2", 2), ("Patient", "p1", 1), ("Patient", "p1", 3), ("Person", "p1", 2)] {
            #expect(throws: SealingError.authenticationFailed) {
                _ = try Self.sealer.unseal(
                    content: sealed.content, sealed: sealed.sealed, keyID: sealed.keyID, type: type, id: id, versionID: version)
            }
        }
    }

    @Test func anyFlippedBitFailsToOpen() throws {
        let sealed = try Self.sealedPatient()
        let payload = try #require(sealed.sealed)
        for index in 1..<payload.count {  // byte 0 is the format version, tested below
            var tampered = payload
            tampered[index] ^= 0x01 << UInt8(index % 8)
            #expect(throws: SealingError.authenticationFailed) {
                _ = try Self.sealer.unseal(
                    content: sealed.content, sealed: tampered, keyID: "k1", type: "Patient", id: "p1", versionID: 2)
            }
        }
        var otherFormat = payload
        otherFormat[0] = 2
        #expect(throws: SealingError.unsupportedFormat) {
            _ = try Self.sealer.unseal(
                content: sealed.content, sealed: otherFormat, keyID: "k1", type: "Patient", id: "p1", versionID: 2)
        }
        #expect(throws: SealingError.unsupportedFormat) {
            _ = try Self.sealer.unseal(
                content: sealed.content, sealed: Array(payload.prefix(20)), keyID: "k1", type: "Patient", id: "p1", versionID: 2)
        }
    }

    @Test func unknownOrMissingKeyIdsFail() throws {
        let sealed = try Self.sealedPatient()
        #expect(throws: SealingError.unknownKey) {
            _ = try Self.sealer.unseal(
                content: sealed.content, sealed: sealed.sealed, keyID: "k9", type: "Patient", id: "p1", versionID: 2)
        }
        #expect(throws: SealingError.missingKey) {
            _ = try Self.sealer.unseal(
                content: sealed.content, sealed: sealed.sealed, keyID: nil, type: "Patient", id: "p1", versionID: 2)
        }
        // Key id k2 names a key that exists but did not seal this payload.
        let both = FieldSealer(policy: .standard, keyring: try EncryptionTestData.keyring(["k1", "k2"]))
        #expect(throws: SealingError.authenticationFailed) {
            _ = try both.unseal(
                content: sealed.content, sealed: sealed.sealed, keyID: "k2", type: "Patient", id: "p1", versionID: 2)
        }
    }

    @Test func contentThatNoLongerFitsThePayloadFails() throws {
        let sealed = try Self.sealedPatient()
        var content = try #require(sealed.content.objectValue)
        content["telecom"] = .array([])  // a writer with database access put its own telecom in
        #expect(throws: SealingError.contentMismatch) {
            _ = try Self.sealer.unseal(
                content: .object(content), sealed: sealed.sealed, keyID: "k1", type: "Patient", id: "p1", versionID: 2)
        }
        let request = try FHIRJSON.parse(#"{"resourceType": "MedicationRequest", "dosageInstruction": [{"text": "x"}]}"#)
        let sealedRequest = try Self.sealer.seal(resource: request, type: "MedicationRequest", id: "m", versionID: 1)
        let emptied = try FHIRJSON.parse(#"{"resourceType": "MedicationRequest"}"#)
        #expect(throws: SealingError.contentMismatch) {
            _ = try Self.sealer.unseal(
                content: emptied, sealed: sealedRequest.sealed, keyID: "k1", type: "MedicationRequest", id: "m", versionID: 1)
        }
    }

    @Test func errorMessagesCarryNoData() throws {
        let sealed = try Self.sealedPatient()
        do {
            _ = try Self.sealer.unseal(
                content: sealed.content, sealed: sealed.sealed, keyID: "k1", type: "Patient", id: "p9", versionID: 2)
            Issue.record("opened under another id")
        } catch {
            let message = "\(error)"
            #expect(!message.contains("p9") && !message.contains("555") && !message.contains("Lee"))
        }
    }

    // MARK: Rotation

    @Test func aRingWithANewActiveKeyStillOpensOldRows() throws {
        let old = try Self.sealedPatient()
        let rotated = FieldSealer(policy: .standard, keyring: try EncryptionTestData.keyring(["k1", "k2"]))
        #expect(rotated.keyring.activeKeyID == "k2")
        let opened = try rotated.unseal(
            content: old.content, sealed: old.sealed, keyID: old.keyID, type: "Patient", id: "p1", versionID: 2)
        #expect(opened == EncryptionTestData.patient)
        // Re-sealing under k2 makes k1 unnecessary.
        let resealed = try rotated.seal(resource: opened, type: "Patient", id: "p1", versionID: 2)
        #expect(resealed.keyID == "k2")
        let onlyK2 = FieldSealer(policy: .standard, keyring: try EncryptionTestData.keyring(["k2"]))
        #expect(try onlyK2.unseal(
            content: resealed.content, sealed: resealed.sealed, keyID: "k2", type: "Patient", id: "p1", versionID: 2)
            == EncryptionTestData.patient)
        #expect(throws: SealingError.unknownKey) {
            _ = try onlyK2.unseal(content: old.content, sealed: old.sealed, keyID: "k1", type: "Patient", id: "p1", versionID: 2)
        }
    }

    @Test func resealMovesARowToTheActiveKey() throws {
        let old = try Self.sealedPatient()
        let rotated = FieldSealer(policy: .standard, keyring: try EncryptionTestData.keyring(["k1", "k2"]))
        let resealed = try rotated.reseal(
            content: old.content, sealed: old.sealed, keyID: old.keyID, type: "Patient", id: "p1", versionID: 2)
        #expect(resealed.keyID == "k2")
        #expect(resealed.content == old.content)
        let onlyK2 = FieldSealer(policy: .standard, keyring: try EncryptionTestData.keyring(["k2"]))
        #expect(try onlyK2.unseal(
            content: resealed.content, sealed: resealed.sealed, keyID: resealed.keyID, type: "Patient", id: "p1", versionID: 2)
            == EncryptionTestData.patient)
        // A row that fails to open is not re-sealed (rotation must not launder tampered rows).
        var tampered = try #require(old.sealed)
        tampered[tampered.count - 1] ^= 1
        #expect(throws: SealingError.authenticationFailed) {
            _ = try rotated.reseal(content: old.content, sealed: tampered, keyID: "k1", type: "Patient", id: "p1", versionID: 2)
        }
    }

    /// Unsealing follows the payload, not the policy: rows sealed under an older policy stay readable.
    @Test func aPolicyChangeKeepsOldRowsReadable() throws {
        let old = try Self.sealedPatient()
        let narrower = try EncryptionPolicy(json: Array(#"{"*": ["text"]}"#.utf8))
        let sealer = FieldSealer(policy: narrower, keyring: try EncryptionTestData.keyring(["k1"]))
        #expect(try sealer.unseal(
            content: old.content, sealed: old.sealed, keyID: "k1", type: "Patient", id: "p1", versionID: 2)
            == EncryptionTestData.patient)
    }
}
