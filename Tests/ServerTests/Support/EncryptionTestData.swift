import FHIRModels
@testable import Server

/// Small keyrings and a resource for encryption tests that need no fixtures.
enum EncryptionTestData {
    static let k1 = [UInt8](repeating: 0x11, count: 32)
    static let k2 = [UInt8](repeating: 0x22, count: 32)
    static let blind = [UInt8](repeating: 0x99, count: 32)

    static func keyring(_ ids: [String], active: String? = nil) throws -> Keyring {
        let material = ["k1": k1, "k2": k2]
        return try Keyring(keys: ids.map { ($0, material[$0]!) }, activeKeyID: active, blindIndexKey: blind)
    }

    static let patient: JSONValue = try! FHIRJSON.parse(#"""
        {"resourceType": "Patient", "id": "p1",
         "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Ann Lee, 12 Elm St</div>"},
         "name": [{"family": "Lee", "given": ["Ann"]}],
         "telecom": [{"system": "phone", "value": "+1 (555) 010-9999", "use": "home"},
                     {"system": "email", "value": "Ann.Lee@Example.org"}],
         "gender": "female",
         "_gender": {"extension": [{"url": "http://example.org/x", "valueString": "kept"}]},
         "birthDate": "1970-01-01",
         "address": [{"line": ["12 Elm St"], "city": "Springfield"}],
         "contact": [{"name": {"family": "Lee"}, "telecom": [{"system": "phone", "value": "555-0200"}]}]}
        """#)
}
