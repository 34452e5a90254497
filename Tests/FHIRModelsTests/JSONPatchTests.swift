import FixtureSupport
import Foundation
import Testing
@testable import FHIRModels

@Suite("JSON Patch (RFC 6902)")
struct JSONPatchTests {
    /// HL7's JSON Patch cases (from RFC 6902's appendix): each either gives the expected
    /// document or must fail.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func passesHL7JSONPatchCases() throws {
        let cases = try #require(try FHIRJSON.parse(Fixtures.data("conformance/patch/json-patch-tests.json")).arrayValue)
        #expect(cases.count == 16)
        for testCase in cases {
            let comment = testCase["comment"]?.stringValue ?? "?"
            let document = try #require(testCase["doc"])
            let patchDocument = try #require(testCase["patch"])
            let outcome = Result { () throws(JSONPatch.PatchError) in try JSONPatch(document: patchDocument).apply(to: document) }
            if let expected = testCase["expected"] {
                let patched = try outcome.get()
                #expect(JSONPatch.jsonEqual(patched, expected), "\(comment)")
            } else {
                #expect(testCase["error"] != nil, "\(comment): a case needs expected or error")
                #expect(throws: JSONPatch.PatchError.self, "\(comment)") { try outcome.get() }
            }
        }
    }

    @Test func patchesAFHIRResourceAndLeavesInputOnFailure() throws {
        let patient = try FHIRJSON.parse(#"{"resourceType":"Patient","id":"p1","name":[{"family":"Doe","given":["A"]}],"active":true}"#)
        let patch = try JSONPatch(document: FHIRJSON.parse("""
            [{"op":"test","path":"/active","value":true},
             {"op":"add","path":"/name/0/given/-","value":"B"},
             {"op":"replace","path":"/active","value":false},
             {"op":"remove","path":"/name/0/family"}]
            """))
        let result = try patch.apply(to: patient)
        #expect(result["name"]?.arrayValue?.first?["given"] == .array([.string("A"), .string("B")]))
        #expect(result["active"] == .bool(false))
        #expect(result["name"]?.arrayValue?.first?["family"] == nil)

        let failing = try JSONPatch(document: FHIRJSON.parse(#"[{"op":"replace","path":"/active","value":false},{"op":"remove","path":"/nothing"}]"#))
        #expect(throws: JSONPatch.PatchError.self) { try failing.apply(to: patient) }
        #expect(patient["active"] == .bool(true))
        #expect(JSONPatch.parsePointer("/a~1b/~0c") == ["a/b", "~c"])
        #expect(JSONPatch.parsePointer("a") == nil)
    }
}
