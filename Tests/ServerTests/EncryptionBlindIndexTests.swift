import Crypto
import FHIRModels
import Foundation
import Testing
@testable import Server

@Suite struct EncryptionBlindIndexTests {
    static let index = BlindIndex(keyring: try! EncryptionTestData.keyring(["k1"]))

    @Test func textIsTrimmedCaseFoldedAndNFC() {
        #expect(BlindIndex.normalize("  Ann.Lee@Example.ORG \n", as: .text) == "ann.lee@example.org")
        // "é" as e + combining acute (NFD) and as one scalar (NFC) are the same value.
        let decomposed = "Jos\u{0065}\u{0301}@example.org"
        let composed = "jos\u{00E9}@example.org"
        #expect(BlindIndex.normalize(decomposed, as: .text) == composed)
        #expect(BlindIndex.normalize("ÉCOLE", as: .text) == "école")
    }

    @Test func phonesKeepOnlyDigits() {
        #expect(BlindIndex.normalize("+1 (555) 010-9999", as: .phone) == "15550109999")
        #expect(BlindIndex.normalize("555.010.9999 ext", as: .phone) == "5550109999")
        #expect(BlindIndex.normalize("٥٥٥", as: .phone) == "555")  // Arabic-Indic digits
        #expect(BlindIndex.normalize("none", as: .phone) == "")
    }

    @Test func equalAfterNormalizationMeansEqualHash() {
        let a = Self.index.hash(param: "email", value: "Ann.Lee@Example.org", as: .text)
        let b = Self.index.hash(param: "email", value: " ann.lee@example.ORG", as: .text)
        #expect(a == b)
        #expect(a.count == 32)
        #expect(a != Self.index.hash(param: "email", value: "ann.lee@example.com", as: .text))
        // Same digits as a phone and as an identifier: different parameters, different values.
        #expect(Self.index.hash(param: "phone", value: "5550100", as: .phone)
            != Self.index.hash(param: "identifier", value: "5550100", as: .text))
    }

    @Test func valueIsNeitherThePlaintextNorItsPlainSHA256() {
        let value = "ann.lee@example.org"
        let hash = Self.index.hash(param: "email", value: value, as: .text)
        #expect(hash != Array(value.utf8))
        #expect(hash != Array(SHA256.hash(data: Array(value.utf8))))
        #expect(hash != Array(SHA256.hash(data: Array("email\u{1F}\(value)".utf8))))
        // Nor an HMAC under the raw blind-index key: the HMAC key is derived from it.
        let raw = HMAC<SHA256>.authenticationCode(
            for: Array("email\u{1F}\(value)".utf8), using: SymmetricKey(data: EncryptionTestData.blind))
        #expect(hash != Array(raw))
    }

    /// Rotating encryption keys must not change index values, or every index row would go stale.
    @Test func rotationLeavesIndexValuesUnchanged() throws {
        let rotated = BlindIndex(keyring: try EncryptionTestData.keyring(["k1", "k2"]))
        #expect(rotated.hash(param: "phone", value: "555-0100", as: .phone)
            == Self.index.hash(param: "phone", value: "555-0100", as: .phone))
        let otherBlindKey = try Keyring(keys: [("k1", EncryptionTestData.k1)], blindIndexKey: EncryptionTestData.k2)
        #expect(BlindIndex(keyring: otherBlindKey).hash(param: "phone", value: "555-0100", as: .phone)
            != Self.index.hash(param: "phone", value: "555-0100", as: .phone))
    }

    @Test func valuesCoverSealedEmailAndPhone() {
        let entries = Self.index.values(type: "Patient", resource: EncryptionTestData.patient, policy: .standard)
        #expect(entries == [
            BlindIndex.Entry(param: "phone", hash: Self.index.hash(param: "phone", value: "15550109999", as: .phone)),
            BlindIndex.Entry(param: "email", hash: Self.index.hash(param: "email", value: "ann.lee@example.org", as: .text)),
        ])
        // Telecom is plain on Organization by default: no blind index (plain token search serves it).
        var organization = EncryptionTestData.patient.objectValue!
        organization["resourceType"] = .string("Organization")
        #expect(Self.index.values(type: "Organization", resource: .object(organization), policy: .standard).isEmpty)
    }

    @Test func identifiersAreIndexedOnlyWhenThePolicySealsThem() throws {
        let patient = try FHIRJSON.parse(#"""
            {"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "MRN-7 "}, {"value": "mrn-7"}]}
            """#)
        #expect(Self.index.values(type: "Patient", resource: patient, policy: .standard).isEmpty)
        let sealing = try EncryptionPolicy(json: Array(#"{"Patient": ["identifier"]}"#.utf8))
        #expect(Self.index.values(type: "Patient", resource: patient, policy: sealing)
            == [BlindIndex.Entry(param: "identifier", hash: Self.index.hash(param: "identifier", value: "mrn-7", as: .text))])
    }
}
