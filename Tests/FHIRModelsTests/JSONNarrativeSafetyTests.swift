import Testing
@testable import FHIRModels

@Suite("Narrative safety in JSON")
struct JSONNarrativeSafetyTests {
    @Test(arguments: [
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>alert(1)</script></div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p onclick=\"x()\">hi</p></div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><iframe src=\"https://example.org\"></iframe></div>",
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>unclosed</div>",
    ])
    func validatorRefusesActiveOrMalformedNarrative(div: String) {
        let patient: JSONValue = ["resourceType": "Patient", "text": ["status": "generated", "div": .string(div)]]
        let issues = FHIRValidator().validate(patient)
        #expect(issues.hasErrors)
        #expect(issues.first?.expression == "Patient.text.div")
    }

    @Test func validatorAcceptsOrdinaryNarrative() {
        let patient: JSONValue = [
            "resourceType": "Patient",
            "text": ["status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Peter <b>Chalmers</b></p></div>"],
        ]
        #expect(FHIRValidator().validate(patient).isEmpty)
    }
}

extension JSONNarrativeSafetyTests {
    /// JSON narrative must declare the XHTML namespace on the div, as R4's JSON format requires.
    @Test func validatorRequiresTheXHTMLNamespace() {
        let patient: JSONValue = ["resourceType": "Patient", "text": ["status": "generated", "div": "<div>x</div>"]]
        #expect(FHIRValidator().validate(patient).map(\.expression) == ["Patient.text.div"])
    }
}
