import FixtureSupport
import Foundation
import Testing
@testable import FHIRModels

/// Runs the structural subset of HL7's validator test cases (`conformance/validator`, from
/// FHIR/fhir-test-cases) and compares our verdict with the HL7 Java validator's expected outcome.
///
/// Verdicts: ours is "invalid" when the input does not parse (strict JSON / XML) or
/// `FHIRValidator` reports any error; HL7's is "invalid" when its expected OperationOutcome
/// has any error or fatal issue (or the inline `errorCount` is above 0).
///
/// Selection rule (the same text is in docs/conformance.md). A case counts when its expected
/// verdict can be decided by structural validation alone:
///  * every case HL7 expects to be valid under default settings counts: a structural
///    validator must accept it;
///  * a case HL7 expects to be invalid counts when at least one of its expected errors is a
///    structural defect we check: unparseable JSON/XML, unknown element or property, JSON
///    shape (array/object/primitive kind), minimum or maximum cardinality of a base element,
///    empty values, a primitive's lexical form (id, date, base64Binary, ...);
///  * a case does not count when all its expected errors need something else (terminology,
///    FHIRPath invariants, reference resolution and Bundle rules, extension or profile
///    definitions, narrative XHTML content, markdown heuristics, business rules of
///    conformance resources), or when its expected outcome depends on a non-default
///    validator setting that the subset manifest does not carry.
/// Each case's classification is spelled out in `selection` below, so that a new case in the
/// manifest fails the test until someone classifies it.
@Suite("HL7 validator conformance (structural subset)")
struct ValidatorConformanceTests {
    enum Selection {
        /// Counts; the text says which expected error is structural (or "valid").
        case structure(String)
        /// Does not count, and why.
        case excluded(String)
    }

    static let selection: [String: Selection] = [
        // HL7: valid. A structural validator must accept these.
        "bundle-document-versioned-references-good": .structure("valid"),
        "contained": .structure("valid"),
        "demo-example-1": .structure("valid"),
        "patient-animal": .structure("valid"),
        "patient-extension-simple": .structure("valid"),
        "patient-extension-complex": .structure("valid"),
        "patient-example-ra4": .structure("valid"),
        "care-plan": .structure("valid"),
        "sp-diff-expression": .structure("valid"),
        "containedToContainer": .structure("valid"),
        "bundle-id-1": .structure("valid"),
        "resource-invalid-id-0": .structure("valid"),
        "resource-invalid-eid-0": .structure("valid"),
        "resource-invalid-eid-1": .structure("valid"),
        "document-manifest": .structure("valid"),
        "params-empty-r4": .structure("valid"),
        "base64-whitespace-r4": .structure("valid"),
        "bnd-ambiguous-refs": .structure("valid"),
        "json-good": .structure("valid"),
        "bundle-profiles": .structure("valid"),
        "ai1": .structure("valid"),
        "ai2": .structure("valid"),
        "sd-device": .structure("valid"),
        "binary-ref-internal": .structure("valid"),
        "dr-xml-space": .structure("valid"),
        "cs-narrative-status": .structure("valid"),
        "params-reference-fullUrl-extension": .structure("valid"),
        "params-reference-transaction-bundle": .structure("valid"),
        "params-reference-part-transaction": .structure("valid"),
        "ref-policy-default-r4": .structure("valid"),
        "xhtml-ctrl-mixed-lang": .structure("valid"),
        "standards-status-r4": .structure("valid"),

        // HL7: invalid, with at least one structural error.
        "attachment-with-invalid-binary": .structure("base64Binary lexical form"),
        "attachment-tx": .structure("base64Binary lexical form"),
        "synthea": .structure("object where an array is required (Encounter.reasonCode)"),
        "empty-array": .structure("empty array"),
        "hakan-se-nofetch": .structure("medication[x] minimum cardinality; dateTime with time but no zone"),
        "resource-invalid-id-1": .structure("id lexical form"),
        "resource-invalid-id-2": .structure("id longer than 64"),
        "resource-invalid-id-3": .structure("id lexical form in a contained resource"),
        "patient-id-bad-1 / R4": .structure("id lexical form"),
        "patient-id-bad-2 / R4": .structure("id lexical form"),
        "patient-id-bad-3 / R4": .structure("id longer than 64"),
        "contained-resource-bad-id": .structure("contained resource id longer than 64 (we always validate contained resources, like validateContains=CHECK_VALID)"),
        "bundle-ea-testcase": .structure("List.status and List.mode minimum cardinality in a nested resource"),
        "versioned-extension": .structure("Extension.url minimum cardinality"),
        "patient-extension-bad2": .structure("Extension.url present but empty"),
        "patient-extension-bad3": .structure("Extension.url minimum cardinality"),
        "patient-id-only": .structure("element with neither value nor children (ele-1, an empty element)"),
        "comments-4": .structure("unknown property fhir_comments"),
        "ai3": .structure("unknown property"),
        "ai4": .structure("date lexical form"),
        "ai7": .structure("StructureDefinition minimum cardinalities"),
        "ai8": .structure("StructureDefinition minimum cardinalities"),
        "Observation-ex-pain.json": .structure("code minimum cardinality; unknown property in a primitive"),
        "Observation-ex-pain.xml": .structure("unknown attribute and element; code minimum cardinality"),
        "japanese-utf8-ok": .structure("unknown elements, minimum cardinalities, text in an element-only XML element"),
        "capabilitystatement-measure-processor": .structure("unknown element identifier"),
        "xml-fail": .structure("text in an element-only XML element, unknown attribute and element, id lexical form"),
        "xml-bad-entities": .structure("malformed XML (undeclared entity)"),
        "bundle-dual-subject": .structure("Composition.subject maximum cardinality"),
        "bundle-dual-target": .structure("Composition minimum cardinalities"),
        "json-comments-1-no": .structure("malformed JSON (comment)"),
        "json-comments-2-no": .structure("malformed JSON (comments)"),
        "json-comma-bad-1": .structure("malformed JSON (missing comma)"),
        "json-comma-bad-2": .structure("malformed JSON (commas)"),
        "json-no-quotes-1": .structure("malformed JSON (unquoted name)"),
        "json-no-quotes-2": .structure("malformed JSON (unquoted names and values)"),
        "bad-json-close": .structure("malformed JSON (wrong close)"),
        "bad-json-close-2": .structure("malformed JSON"),
        "bad-json-close-3": .structure("malformed JSON (wrong close)"),

        // HL7: invalid, but only for reasons outside structure.
        "attachment-with-wrong-size": .excluded("Attachment.size against the decoded data (business rule)"),
        "bundle-document-versioned-references-bad": .excluded("reference resolution in a document Bundle"),
        "bad-bundle-reference-type-4": .excluded("reference target type in a Bundle"),
        "message": .excluded("narrative hyperlink schemes; bdl-5 invariant"),
        "message-empty-entry": .excluded("narrative hyperlink schemes; bdl-5 invariant"),
        "patient-extension-complex-bad1": .excluded("extension definition (slices of patient-animal)"),
        "patient-extension-complex-bad2": .excluded("extension definition (unknown sub-extension)"),
        "bundle-validation-location-1.xml": .structure("required binding: a Patient.gender outside administrative-gender"),
        "bundle-validation-location-2.xml": .structure("required binding: a Patient.gender outside administrative-gender"),
        "capstmt": .excluded("SearchParameter type in a CapabilityStatement (business rule)"),
        "mr-covid-bnd1": .excluded("terminology (Coding.system must be a code system)"),
        "sp-diff-type": .excluded("SearchParameter derivation (business rule)"),
        "sp-diff-base": .excluded("SearchParameter expression and base (business rule)"),
        "bundle-duplicate-id": .excluded("Bundle fullUrl rules"),
        "mni-patientOverview-bundle-example1": .excluded("display names; Bundle fullUrl rules"),
        "mni-patientOverview-bundle-example1b": .excluded("display names; duplicate ids; reference resolution"),
        "bundle-duplicate-ids-not": .excluded("display names; search-set link rules; fullUrl rules"),
        "pat-dob-ext": .excluded("extension definition cannot be found"),
        "bundle-id-2": .excluded("Bundle link relation rules"),
        "bundle-id-3": .excluded("display names; search-set entry rules"),
        "bundle-id-4": .excluded("display names; search-set entry rules"),
        "bundle-id-5": .excluded("display names"),
        "bundle-with-contained": .excluded("narrative hyperlink resolution; display names; reference resolution"),
        "risk-assessment-probability-range": .excluded("invariant ras-2"),
        "encounter-period": .excluded("invariant per-1"),
        "test-ndjson": .excluded("invariant per-1"),
        "list-xhtml-empty": .excluded("invariant txt-2 (narrative content)"),
        "xml-bad-entities-json": .excluded("XHTML entity inside the narrative (XHTML content is checked by the XML layer)"),
        "document-css": .excluded("document stylesheet link resolution; fullUrl rules"),
        "maiden-name-extension": .excluded("extension context from the extension definition"),
        "relative_reference_to_fullUrl.id_in_Composition": .excluded("fullUrl and reference resolution rules"),
        "relative_reference_to_fullUrl.id_in_target_resource": .excluded("reference resolution"),
        "relative_reference_to_fullUrl.no_ids.PROBLEM": .excluded("reference resolution"),
        "relative_reference_to_TYPE_ID.all_fullUrl_UUID": .excluded("reference resolution"),
        "sp-composite": .excluded("SearchParameter composite rule (business rule)"),
        "ips-htmlrefs-backwards": .excluded("extension definition types; narrative link resolution"),

        // Outcome depends on a validator setting the subset manifest does not carry.
        "contained-resource-bad-id-ignore": .excluded("setting validateContains=IGNORE"),
        "json-comments-1-yes": .excluded("setting allow-comments (JSON5)"),
        "json-comments-2-yes": .excluded("setting allow-comments (JSON5)"),
        "bad-markdown": .excluded("pair that differs only by a markdown-HTML setting; markdown heuristics are not structural"),
        "bad-markdown-no-html": .excluded("pair that differs only by a markdown-HTML setting; markdown heuristics are not structural"),
        "ref-policy-default-apply-r5": .excluded("setting: R5 reference policy"),
    ]

    /// Counted cases where our verdict differs from HL7's, with the reason. Kept in step with
    /// docs/conformance.md, which must name each of them.
    static let expectedDisagreements: [String: String] = [:]

    /// XML HOOK. Reads an XML input into FHIR JSON form with the XML reader (branch `xml`).
    /// Returning `nil` marks the XML cases as pending (not counted), which `xmlCasesAreCounted` refuses.
    static func readXMLResource(_ bytes: [UInt8]) throws -> JSONValue? {
        try FHIRXMLReader.resource(from: bytes)
    }

    struct Outcome {
        let name: String
        let file: String
        let expectedInvalid: Bool
        /// `nil` when the input could not be run (XML without a reader).
        let ourInvalid: Bool?
        let ourSummary: String
    }

    static func runCases() throws -> [Outcome] {
        let directory = Fixtures.url("conformance/validator")
        let manifest = try FHIRJSON.parse(Data(contentsOf: directory.appendingPathComponent("manifest-r4-subset.json")))
        let validator = FHIRValidator()
        var outcomes: [Outcome] = []
        for testCase in manifest["test-cases"]?.arrayValue ?? [] {
            let name = testCase["name"]?.stringValue ?? ""
            let file = testCase["file"]?.stringValue ?? ""
            let expectedInvalid: Bool
            if let path = testCase["java"]?.stringValue {
                let outcome = try FHIRJSON.parse(Data(contentsOf: directory.appendingPathComponent("outcomes/" + path)))
                expectedInvalid = (outcome["issue"]?.arrayValue ?? []).contains {
                    $0["severity"]?.stringValue == "error" || $0["severity"]?.stringValue == "fatal"
                }
            } else {
                expectedInvalid = Int(testCase["java"]?["errorCount"]?.numberLexical ?? "0") ?? 0 > 0
            }

            let bytes = try [UInt8](Data(contentsOf: directory.appendingPathComponent(file)))
            var documents: [[UInt8]] = [bytes]
            if file.hasSuffix(".ndjson") {
                documents = bytes.split(separator: UInt8(ascii: "\n")).map(Array.init)
            }
            var ourInvalid: Bool? = false
            var summary: [String] = []
            for document in documents {
                do {
                    let resource: JSONValue?
                    if file.hasSuffix(".xml") {
                        resource = try readXMLResource(document)
                    } else {
                        resource = try FHIRJSON.parse(document)
                    }
                    guard let resource else {
                        ourInvalid = nil
                        break
                    }
                    let errors = validator.validate(resource).filter { $0.severity == .error || $0.severity == .fatal }
                    if !errors.isEmpty { ourInvalid = true }
                    summary += errors.prefix(3).map(\.description)
                } catch {
                    ourInvalid = true
                    summary.append("parse error: \(error)")
                }
            }
            outcomes.append(Outcome(name: name, file: file, expectedInvalid: expectedInvalid, ourInvalid: ourInvalid,
                                    ourSummary: summary.joined(separator: "; ")))
        }
        return outcomes
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func everyCaseIsClassified() throws {
        let names = try Self.runCases().map(\.name)
        #expect(names.count == 113)
        #expect(Set(names).count == names.count)
        #expect(Set(names) == Set(Self.selection.keys))
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func structuralVerdictsAgreeWithHL7() throws {
        let outcomes = try Self.runCases().filter {
            if case .structure = Self.selection[$0.name] { return true }
            return false
        }
        let counted = outcomes.filter { $0.ourInvalid != nil }
        let pending = outcomes.filter { $0.ourInvalid == nil }
        let disagreements = counted.filter { $0.ourInvalid != $0.expectedInvalid }
        let agreement = Double(counted.count - disagreements.count) / Double(max(counted.count, 1))
        print("validator conformance: \(counted.count - disagreements.count)/\(counted.count) counted cases agree "
              + "(\(String(format: "%.1f", agreement * 100))%); \(pending.count) pending")
        for outcome in disagreements {
            print("  disagree: \(outcome.name) HL7 \(outcome.expectedInvalid ? "invalid" : "valid"), ours: \(outcome.ourSummary)")
        }
        #expect(counted.count == 73)
        #expect(agreement >= 0.9)
        #expect(Set(disagreements.map(\.name)) == Set(Self.expectedDisagreements.keys))

        let doc = try String(contentsOf: Self.conformanceDocument, encoding: .utf8)
        for name in Self.expectedDisagreements.keys {
            #expect(doc.contains("`\(name)`"), "docs/conformance.md must list the disagreement \(name)")
        }
    }

    /// Excluded cases are not compared, but where we say "invalid" to one, docs/conformance.md
    /// explains why (these are the only ones).
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func excludedCasesWeRejectAreExplained() throws {
        let rejected = try Self.runCases().filter {
            if case .excluded = Self.selection[$0.name] { return $0.ourInvalid == true }
            return false
        }.map(\.name)
        #expect(Set(rejected) == ["xml-bad-entities-json", "json-comments-1-yes", "json-comments-2-yes",
                                  "contained-resource-bad-id-ignore"])
        let doc = try String(contentsOf: Self.conformanceDocument, encoding: .utf8)
        for name in rejected {
            #expect(doc.contains("`\(name)`"), "docs/conformance.md must explain \(name)")
        }
    }

    /// Every XML case is run through `readXMLResource`, none left pending.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func xmlCasesAreCounted() throws {
        let pending = try Self.runCases().filter { $0.ourInvalid == nil }.map(\.name)
        #expect(pending == [])
    }

    static let conformanceDocument = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/conformance.md")
}
