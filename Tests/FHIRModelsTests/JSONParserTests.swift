import FixtureSupport
import Foundation
import Testing
@testable import FHIRModels

@Suite("Strict JSON parser")
struct JSONParserTests {
    private func parseError(_ text: String) -> FHIRFormatError? {
        do {
            _ = try FHIRJSON.parse(text)
            return nil
        } catch {
            return error
        }
    }

    private func parseError(bytes: [UInt8]) -> FHIRFormatError? {
        do {
            _ = try FHIRJSON.parse(bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test func keepsMemberOrderAndDecimalLexicalForm() throws {
        let value = try FHIRJSON.parse(#"{"resourceType":"Observation","valueQuantity":{"value":1.50,"unit":"mg"},"x":-0.0e+10}"#)
        #expect(value.objectValue?.keys == ["resourceType", "valueQuantity", "x"])
        #expect(value["valueQuantity"]?["value"] == .number("1.50"))
        #expect(value["x"] == .number("-0.0e+10"))
        #expect(FHIRJSON.string(value) == #"{"resourceType":"Observation","valueQuantity":{"value":1.50,"unit":"mg"},"x":-0.0e+10}"#)
    }

    @Test func decodesEscapesAndUnicode() throws {
        let value = try FHIRJSON.parse(#"{"a":"line\nbreak \"q\" \\ \/ \u00e9 \ud83d\ude00 caf\#u{00E9}"}"#)
        #expect(value["a"] == .string("line\nbreak \"q\" \\ / é 😀 café"))
        // Escaping on the way out gives back an equal document.
        #expect(try FHIRJSON.parse(FHIRJSON.serialize(value)) == value)
    }

    @Test func refusesDuplicateKeysAtAnyLevel() {
        #expect(parseError(#"{"resourceType":"Patient","resourceType":"Observation"}"#)?.kind == .duplicateKey)
        #expect(parseError(#"{"resourceType":"Patient","name":[{"family":"A","family":"B"}]}"#)?.kind == .duplicateKey)
        // Many members take the hashed path; the duplicate is still found.
        let members = (0..<40).map { "\"k\($0)\":1" }.joined(separator: ",")
        #expect(parseError("{\(members),\"k7\":2}")?.kind == .duplicateKey)
        let error = parseError("{\n  \"a\": 1,\n  \"a\": 2\n}")
        #expect(error?.line == 3)
        #expect(error?.column == 3)
    }

    @Test func refusesDeepNestingWithoutExhaustingTheStack() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let error = parseError(deep)
        #expect(error?.kind == .tooDeep)
        #expect(error?.issue.code == .tooLong)
        let limit = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(parseError(limit) == nil)
        let pastLimit = String(repeating: "[", count: 101) + String(repeating: "]", count: 101)
        #expect(parseError(pastLimit)?.kind == .tooDeep)
    }

    @Test func allowsNullOnlyInsideArrays() throws {
        #expect(parseError(#"{"birthDate":null}"#)?.kind == .forbiddenNull)
        #expect(parseError("null")?.kind == .forbiddenNull)
        let value = try FHIRJSON.parse(#"{"given":["A",null],"_given":[null,{"id":"x"}]}"#)
        #expect(value["given"] == .array([.string("A"), .null]))
    }

    @Test func refusesInvalidEncodingAndFraming() {
        #expect(parseError(bytes: [0xEF, 0xBB, 0xBF] + Array(#"{"a":1}"#.utf8))?.kind == .malformedJSON)
        #expect(parseError(bytes: Array(#"{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8))?.kind == .invalidUTF8)
        #expect(parseError(bytes: Array(#"{"a":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8))?.kind == .invalidUTF8)
        #expect(parseError(#"{"a":"\ud800"}"#)?.kind == .invalidUTF8)
        #expect(parseError(#"{"a":"\udc00x"}"#)?.kind == .invalidUTF8)
        #expect(parseError(#"{"a":"\ud800\u0041"}"#)?.kind == .invalidUTF8)
        #expect(parseError(#"{"a":1} x"#)?.kind == .malformedJSON)
        #expect(parseError(#"{"a":1}{"b":2}"#)?.kind == .malformedJSON)
        #expect(parseError(#"{"a":01}"#)?.kind == .malformedJSON)
        #expect(parseError(#"{"a":1.}"#)?.kind == .malformedJSON)
        #expect(parseError(#"{"a":[1,]}"#)?.kind == .malformedJSON)
        #expect(parseError(#"{"a":1,}"#)?.kind == .malformedJSON)
        #expect(parseError("{\"a\":\"tab\there\"}")?.kind == .malformedJSON)
        #expect(parseError(#"{'a':1}"#)?.kind == .malformedJSON)
        #expect(parseError(#"{"a":tru}"#)?.kind == .malformedJSON)
        #expect(parseError("")?.kind == .malformedJSON)
    }

    @Test func enforcesTheSizeLimit() {
        do {
            _ = try FHIRJSON.parse(Array(#"{"resourceType":"Patient"}"#.utf8), limits: .init(maxBytes: 10))
            Issue.record("an oversized document was accepted")
        } catch {
            #expect(error.kind == .tooLarge)
        }
    }

    @Test func errorMessagesDoNotQuoteContent() {
        let error = parseError(#"{"name":"Secret Person","name":"Secret Person"}"#)
        #expect(error != nil)
        #expect(!(error?.description.contains("Secret") ?? true))
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func parsesEveryOfficialExampleAndSyntheaBundleLikeFoundation() throws {
        let files = Fixtures.files(in: "hl7-examples/json", withExtension: "json")
            + Fixtures.files(in: "synthea", withExtension: "json")
            + [Fixtures.url("conformance/json-edge-cases.json")]
        #expect(files.count == Fixtures.expected(full: 161 + 34 + 1, vendored: 32 + 8 + 1))
        for file in files {
            let data = try Data(contentsOf: file)
            let value = try FHIRJSON.parse(data)
            // Same content as Foundation's parser sees, and writing it back gives the same tree.
            let foundation = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            #expect(value["resourceType"]?.stringValue == foundation?["resourceType"] as? String, "\(file.lastPathComponent)")
            #expect(value.objectValue?.count == foundation?.count, "\(file.lastPathComponent)")
            #expect(try FHIRJSON.parse(FHIRJSON.serialize(value)) == value, "\(file.lastPathComponent)")
            #expect(try FHIRJSON.parse(FHIRJSON.serialize(value, pretty: true)) == value, "\(file.lastPathComponent)")
        }
    }
}
