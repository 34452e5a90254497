import Foundation
import Testing
@testable import FHIRModels

/// One targeted invalid document per rule, asserting the exact location reported.
@Suite("Structural validator rules")
struct ValidatorTests {
    private let validator = FHIRValidator()

    /// The issues for a JSON text, as `expression|code` strings.
    private func issues(_ json: String) throws -> [String] {
        let value = try FHIRJSON.parse(json)
        return validator.validate(value).map { "\($0.expression ?? "-")|\($0.code.rawValue)" }
    }

    @Test func acceptsAValidPatient() throws {
        let json = #"""
        {"resourceType":"Patient","id":"p1","meta":{"lastUpdated":"2024-01-02T03:04:05.123+01:00"},
         "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},
         "active":true,"name":[{"family":"Doe","given":["A","B"],"_given":[null,{"extension":[{"url":"http://x","valueCode":"IN"}]}]}],
         "gender":"female","_gender":{"id":"g"},"birthDate":"1970-02","deceasedDateTime":"2020-01-01T00:00:00Z",
         "multipleBirthInteger":2,"contact":[{"name":{"text":"x"}}],
         "extension":[{"url":"http://example.org/a","valueDecimal":1.50e3},{"url":"http://example.org/b","extension":[{"url":"c","valueBoolean":false}]}]}
        """#
        #expect(try issues(json) == [])
    }

    @Test func resourceType() throws {
        #expect(try issues(#"{"id":"a"}"#) == ["-|required"])
        #expect(try issues(#"{"resourceType":5}"#) == ["-|structure"])
        #expect(try issues(#"{"resourceType":"Patientx"}"#) == ["-|structure"])
        #expect(try issues(#"{"resourceType":"DomainResource"}"#) == ["-|structure"])
        #expect(try issues(#"["Patient"]"#) == ["-|structure"])
        #expect(try issues(#"{"resourceType":"HumanName"}"#) == ["-|structure"])
    }

    @Test func unknownElements() throws {
        #expect(try issues(#"{"resourceType":"Patient","nickname":"x"}"#) == ["Patient.nickname|structure"])
        #expect(try issues(#"{"resourceType":"Patient","name":[{"fmaily":"x"}]}"#) == ["Patient.name[0].fmaily|structure"])
        #expect(try issues(#"{"resourceType":"Patient","_nickname":{"id":"x"}}"#) == ["Patient._nickname|structure"])
        // `_name` is only for primitives: HumanName is complex.
        #expect(try issues(#"{"resourceType":"Patient","_name":[{"id":"x"}]}"#) == ["Patient._name|structure"])
        // A choice without a type suffix, and a type the choice does not allow.
        #expect(try issues(#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"value":"x"}"#)
            == ["Observation.value|structure"])
        #expect(try issues(#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueMoney":{"value":1}}"#)
            == ["Observation.valueMoney|structure"])
        // resourceType is only a member of resources.
        #expect(try issues(#"{"resourceType":"Patient","name":[{"resourceType":"HumanName"}]}"#)
            == ["Patient.name[0].resourceType|structure"])
    }

    @Test func requiredElements() throws {
        #expect(try issues(#"{"resourceType":"Observation","code":{"text":"x"}}"#) == ["Observation.status|required"])
        #expect(try issues(#"{"resourceType":"Patient","extension":[{"valueString":"x"}]}"#)
            == ["Patient.extension[0].url|required"])
        #expect(try issues(#"{"resourceType":"Patient","text":{"status":"generated"}}"#) == ["Patient.text.div|required"])
        // A required choice: Extension does not require value[x], but Observation.component.code is required.
        #expect(try issues(#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"component":[{"valueString":"x"}]}"#)
            == ["Observation.component[0].code|required"])
        // A required primitive given only by its extension is present.
        #expect(try issues(#"{"resourceType":"Observation","_status":{"extension":[{"url":"http://x","valueCode":"unknown"}]},"code":{"text":"x"}}"#)
            == [])
    }

    @Test func arrayShape() throws {
        #expect(try issues(#"{"resourceType":"Patient","name":{"family":"x"}}"#) == ["Patient.name|structure"])
        #expect(try issues(#"{"resourceType":"Patient","gender":["male"]}"#) == ["Patient.gender|structure"])
        #expect(try issues(#"{"resourceType":"Patient","name":[{"given":"A"}]}"#) == ["Patient.name[0].given|structure"])
        #expect(try issues(#"{"resourceType":"Patient","maritalStatus":[{"text":"x"}]}"#) == ["Patient.maritalStatus|structure"])
        #expect(try issues(#"{"resourceType":"Patient","_gender":[{"id":"x"}]}"#) == ["Patient.gender|structure"])
        #expect(try issues(#"{"resourceType":"Patient","name":[{"given":["A"],"_given":{"id":"x"}}]}"#)
            == ["Patient.name[0].given|structure"])
    }

    @Test func jsonKinds() throws {
        #expect(try issues(#"{"resourceType":"Patient","active":"true"}"#) == ["Patient.active|structure"])
        #expect(try issues(#"{"resourceType":"Patient","multipleBirthInteger":"2"}"#) == ["Patient.multipleBirthInteger|structure"])
        #expect(try issues(#"{"resourceType":"Patient","gender":1}"#) == ["Patient.gender|structure"])
        #expect(try issues(#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":"1.5"}}"#)
            == ["Observation.valueQuantity.value|structure"])
        #expect(try issues(#"{"resourceType":"Patient","name":[{"given":[1]}]}"#) == ["Patient.name[0].given[0]|structure"])
        #expect(try issues(#"{"resourceType":"Patient","name":["Doe"]}"#) == ["Patient.name[0]|structure"])
        #expect(try issues(#"{"resourceType":"Patient","_gender":"x"}"#) == ["Patient.gender|structure"])
    }

    /// Codes bound `required` to a value set the specification enumerates: resource elements,
    /// backbone elements, datatypes and repeating codes, without quoting the value.
    @Test func requiredCodeBindings() throws {
        #expect(try issues(#"{"resourceType":"Observation","status":"done","code":{"text":"x"}}"#) == ["Observation.status|code-invalid"])
        #expect(try issues(#"{"resourceType":"Observation","status":"final","code":{"text":"x"}}"#) == [])
        #expect(try issues(#"{"resourceType":"Patient","gender":"f"}"#) == ["Patient.gender|code-invalid"])
        #expect(try issues(#"{"resourceType":"Patient","contact":[{"gender":"M"}]}"#) == ["Patient.contact[0].gender|code-invalid"])
        #expect(try issues(#"{"resourceType":"Patient","telecom":[{"system":"mobile","value":"1"}]}"#) == ["Patient.telecom[0].system|code-invalid"])
        #expect(try issues(#"{"resourceType":"Patient","name":[{"use":"official"}],"telecom":[{"system":"sms","value":"1"}]}"#) == [])
        #expect(try issues(#"{"resourceType":"Encounter","status":"planned","class":{"code":"AMB"},"statusHistory":[{"status":"booked","period":{"start":"2020"}}]}"#)
            == ["Encounter.statusHistory[0].status|code-invalid"])
        let wrongBase = try FHIRJSON.parse(#"{"resourceType":"SearchParameter","url":"http://x","name":"x","status":"active","description":"x","code":"x","base":["Patient","Patients"],"type":"token"}"#)
        let baseIssues = FHIRValidator().validate(wrongBase)
        #expect(baseIssues.map { "\($0.expression ?? "")|\($0.code.rawValue)" } == ["SearchParameter.base[1]|code-invalid"])
        #expect(baseIssues.allSatisfy { !$0.diagnostics.contains("Patients") }, "the value is not quoted")
        // Bindings to value sets outside the specification (MIME types) are not checked.
        #expect(try issues(#"{"resourceType":"Patient","photo":[{"contentType":"image/x-unheard-of"}]}"#) == [])
    }

    @Test func primitiveFormatsInPlace() throws {
        func patient(_ member: String) throws -> [String] { try issues(#"{"resourceType":"Patient","# + member + "}") }
        #expect(try patient(#""id":"a_b""#) == ["Patient.id|value"])
        #expect(try patient(#""birthDate":"1970-13-01""#) == ["Patient.birthDate|value"])
        #expect(try patient(#""deceasedDateTime":"2020-01-01T10:00:00""#) == ["Patient.deceasedDateTime|value"])
        #expect(try patient(#""meta":{"lastUpdated":"2020-01-01"}"#) == ["Patient.meta.lastUpdated|value"])
        #expect(try patient(#""gender":" male""#) == ["Patient.gender|value"])
        #expect(try patient(#""implicitRules":"http://a b""#) == ["Patient.implicitRules|value"])
        #expect(try patient(#""multipleBirthInteger":1.0"#) == ["Patient.multipleBirthInteger|value"])
        #expect(try patient(#""multipleBirthInteger":2147483648"#) == ["Patient.multipleBirthInteger|value"])
        #expect(try patient(#""photo":[{"data":"abc"}]"#) == ["Patient.photo[0].data|value"])
        #expect(try patient(#""photo":[{"size":-1}]"#) == ["Patient.photo[0].size|value"])
        #expect(try patient(#""name":[{"given":["A",""]}]"#) == ["Patient.name[0].given[1]|value"])
        #expect(try patient(#""name":[{"family":"a\u0001b"}]"#) == ["Patient.name[0].family|value"])
        #expect(try patient(#""extension":[{"url":"http://x","valuePositiveInt":0}]"#)
            == ["Patient.extension[0].valuePositiveInt|value"])
        #expect(try patient(#""extension":[{"url":"http://x","valueOid":"urn:oid:1.02"}]"#)
            == ["Patient.extension[0].valueOid|value"])
        #expect(try patient(#""extension":[{"url":"http://x","valueUuid":"urn:uuid:C0A80101-0000-0000-0000-000000000000"}]"#)
            == ["Patient.extension[0].valueUuid|value"])
        #expect(try patient(#""extension":[{"url":"http://x","valueTime":"25:00:00"}]"#)
            == ["Patient.extension[0].valueTime|value"])
        #expect(try patient(#""text":{"status":"generated","div":"<p>x</p>"}"#) == ["Patient.text.div|value"])
        #expect(try patient(#""text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>","_div":{"extension":[{"url":"http://x","valueString":"y"}]}}"#)
            == ["Patient.text.div.extension|structure"])
        // Primitive extensions are checked against the primitive type's own elements.
        #expect(try patient(#""_birthDate":{"extension":[{"valueString":"y"}]}"#) == ["Patient.birthDate.extension[0].url|required"])
        #expect(try patient(#""_birthDate":{"value":"1970"}"#) == ["Patient.birthDate.value|structure"])
    }

    @Test(arguments: [
        ("string", ["x", " leading and trailing ", "tab\tand\r\nnewlines", "é😀"], ["", "bell\u{7}", "nul\u{0}"]),
        ("code", ["final", "a b", "ø"], ["", " a", "a ", "a  b", "a\t\tb"]),
        ("id", ["a", "A-1.b", String(repeating: "x", count: 64)], ["", "a b", "a_b", "é", String(repeating: "x", count: 65)]),
        ("uri", ["http://x", "urn:uuid:1", "#a", "a"], ["", "http://a b", "a\tb"]),
        ("oid", ["urn:oid:1.2.3", "urn:oid:2.0.10"], ["urn:oid:1", "urn:oid:3.1", "urn:oid:1.02", "1.2.3", "urn:oid:1.2."]),
        ("uuid", ["urn:uuid:c757873d-ec9a-4326-a141-556f43239520"],
         ["urn:uuid:C757873D-EC9A-4326-A141-556F43239520", "c757873d-ec9a-4326-a141-556f43239520", "urn:uuid:c757873d"]),
        ("base64Binary", ["aGVsbG8=", "aGVs bG8=", "AAAA\nBBBB", "aGk="], ["aGVsbG8", "aGV=bG8=", "a===", "****", "aGVsbG8=="]),
        ("date", ["2024", "2024-02", "2024-02-29", "0001-01-01"], ["24", "0000", "2024-2", "2024-00", "2024-13", "2024-01-32", "2024-01-01T00:00:00Z", "2024-01-01 "]),
        ("dateTime", ["2024", "2024-01", "2024-01-01", "2024-01-01T10:11:12Z", "2024-01-01T10:11:12.123456+05:30", "2024-01-01T23:59:60-14:00"],
         ["2024-01-01T10:11Z", "2024-01-01T10:11:12", "2024-01T10:11:12Z", "2024-01-01T10:11:12+15:00", "2024-01-01T10:11:12+14:01", "2024-01-01T10:11:12.Z", "2024-01-01t10:11:12Z"]),
        ("instant", ["2024-01-01T10:11:12Z", "2024-01-01T10:11:12.5+01:00"], ["2024-01-01", "2024-01-01T10:11:12", "2024-01-01T10:11Z"]),
        ("time", ["00:00:00", "23:59:60", "12:30:00.5"], ["24:00:00", "12:60:00", "12:30", "12:30:00Z"]),
        ("decimal", ["0", "-1.50", "1E-22", "1.0e+10", "-0.0"], ["01", "1.", ".5", "+1", "1e", "1,0", "NaN"]),
        ("integer", ["0", "-5", "2147483647", "-2147483648"], ["1.0", "1e2", "01", "2147483648", "-2147483649", "+1"]),
        ("positiveInt", ["1", "2147483647"], ["0", "-1", "2147483648"]),
        ("unsignedInt", ["0", "7"], ["-1", "00", "2147483648"]),
        ("xhtml", ["<div>x</div>", "<div xmlns=\"http://www.w3.org/1999/xhtml\"/>"], ["<p>x</p>", " <div/>", "div"]),
    ])
    func primitiveFormatRules(typeCode: String, valid: [String], invalid: [String]) throws {
        let format = try #require(PrimitiveFormat(typeCode: typeCode))
        for text in valid { #expect(format.accepts(text), "\(typeCode) should accept \(text.debugDescription)") }
        for text in invalid { #expect(!format.accepts(text), "\(typeCode) should refuse \(text.debugDescription)") }
    }

    @Test func emptyValuesAndNulls() throws {
        #expect(try issues(#"{"resourceType":"Patient","name":[]}"#) == ["Patient.name|structure"])
        #expect(try issues(#"{"resourceType":"Patient","name":[{}]}"#) == ["Patient.name[0]|structure"])
        #expect(try issues(#"{"resourceType":"Patient","maritalStatus":{}}"#) == ["Patient.maritalStatus|structure"])
        #expect(try issues(#"{"resourceType":"Patient","gender":""}"#) == ["Patient.gender|value"])
        #expect(try issues(#"{"resourceType":"Patient","_gender":{}}"#) == ["Patient.gender|structure"])
        // null only in primitive arrays, and never in both the value and the `_` array.
        #expect(try issues(#"{"resourceType":"Patient","name":[null]}"#) == ["Patient.name[0]|structure"])
        #expect(try issues(#"{"resourceType":"Patient","name":[{"given":["A",null]}]}"#) == ["Patient.name[0].given[1]|structure"])
        #expect(try issues(#"{"resourceType":"Patient","name":[{"given":[null,"B"],"_given":[null,{"id":"x"}]}]}"#)
            == ["Patient.name[0].given[0]|structure"])
        #expect(try issues(#"{"resourceType":"Patient","name":[{"_given":[null,{"extension":[{"url":"http://x","valueCode":"masked"}]}]}]}"#)
            == ["Patient.name[0].given[0]|structure"])
        #expect(try issues(#"{"resourceType":"Patient","name":[{"given":["A","B"],"_given":[{"id":"x"}]}]}"#)
            == ["Patient.name[0].given|structure"])
        #expect(try issues(#"{"resourceType":"Patient","name":[{"given":["A"],"_given":[]}]}"#) == ["Patient.name[0].given|structure"])
        // Values built in code (or read from XML) can hold null where JSON parsing refuses it.
        let built = JSONValue.object(["resourceType": .string("Patient"), "gender": .null, "maritalStatus": .null])
        #expect(validator.validate(built).map { "\($0.expression ?? "-")|\($0.code.rawValue)" }
            == ["Patient.gender|structure", "Patient.maritalStatus|structure"])
    }

    /// ele-1: an element has a value or children other than `id`.
    @Test func elementsNeedContentBesidesId() throws {
        #expect(try issues(#"{"resourceType":"Patient","_implicitRules":{"id":"i1"}}"#) == ["Patient.implicitRules|structure"])
        #expect(try issues(#"{"resourceType":"Patient","maritalStatus":{"id":"m"}}"#) == ["Patient.maritalStatus|structure"])
        #expect(try issues(#"{"resourceType":"Patient","name":[{"given":["A",null],"_given":[{"id":"a"},{"id":"b"}]}]}"#)
            == ["Patient.name[0].given[1]|structure"])
        // With a value, or on a resource, an id alone is fine.
        #expect(try issues(#"{"resourceType":"Patient","implicitRules":"http://x","_implicitRules":{"id":"i1"}}"#) == [])
        #expect(try issues(#"{"resourceType":"Patient","id":"p"}"#) == [])
    }

    @Test func choiceVariants() throws {
        #expect(try issues(#"{"resourceType":"Patient","deceasedBoolean":true,"deceasedDateTime":"2020"}"#)
            == ["Patient.deceasedDateTime|structure"])
        #expect(try issues(#"{"resourceType":"Patient","deceasedBoolean":true,"_deceasedDateTime":{"extension":[{"url":"http://x","valueCode":"unknown"}]}}"#)
            == ["Patient.deceasedDateTime|structure"])
        #expect(try issues(#"{"resourceType":"Patient","deceasedBoolean":true,"_deceasedBoolean":{"id":"a"}}"#) == [])
    }

    @Test func nestedResources() throws {
        let bundle = #"""
        {"resourceType":"Bundle","type":"collection","entry":[
          {"fullUrl":"urn:uuid:c757873d-ec9a-4326-a141-556f43239520","resource":{"resourceType":"Patient","name":[{"famliy":"x"}]}},
          {"resource":{"resourceType":"Observation","code":{"text":"x"}}},
          {"resource":{"resourceType":"Nope"}},
          {"resource":{"name":[]}}]}
        """#
        #expect(try issues(bundle) == [
            "Bundle.entry[0].resource.name[0].famliy|structure",
            "Bundle.entry[1].resource.status|required",
            "Bundle.entry[2].resource|structure",
            "Bundle.entry[3].resource|required",
        ])
        let parameters = #"{"resourceType":"Parameters","parameter":[{"name":"p","resource":{"resourceType":"Patient","gender":5}}]}"#
        #expect(try issues(parameters) == ["Parameters.parameter[0].resource.gender|structure"])
        let contained = #"""
        {"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","contained":[{"resourceType":"Patient","id":"x"}]},
          {"resourceType":"Practitioner","id":"p","active":"yes"}]}
        """#
        #expect(try issues(contained) == ["Patient.contained[0].contained|structure", "Patient.contained[1].active|structure"])
        // Bundle.entry.resource is not "contained": a resource in a Bundle may contain resources.
        let bundled = #"{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o"}]}}]}"#
        #expect(try issues(bundled) == [])
    }

    @Test func diagnosticsNeverQuoteValues() throws {
        let secret = "SECRET-PHI-4711"
        let json = #"{"resourceType":"Patient","id":"\#(secret)!","birthDate":"\#(secret)","gender":"\#(secret) ","name":[{"given":["\#(secret)"],"_given":[null,null]}]}"#
        let found = validator.validate(try FHIRJSON.parse(json))
        #expect(found.count >= 3)
        for issue in found {
            #expect(!issue.diagnostics.contains("SECRET"))
            #expect(!(issue.expression ?? "").contains("SECRET"))
        }
    }
}
