import FixtureSupport
import FHIRModels
import Foundation
import Testing

@Suite("medrec validate and convert")
struct CommandLineTests {
    static func temporaryFile(_ name: String, _ contents: [UInt8]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medrec-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try Data(contents).write(to: url)
        return url.path
    }

    static let billionLaughs = """
        <?xml version="1.0"?>
        <!DOCTYPE lolz [
          <!ENTITY lol "lol">
          <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
          <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
          <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
          <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
          <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
          <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
          <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
          <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
        ]>
        <Patient xmlns="http://hl7.org/fhir"><gender value="&lol9;"/></Patient>
        """

    static let hostileFiles: [String: [UInt8]] = [
        "duplicate-resourceType.json": Array(#"{"resourceType":"Patient","resourceType":"Observation"}"#.utf8),
        "duplicate-nested.json": Array(#"{"resourceType":"Patient","name":[{"family":"A","family":"B"}]}"#.utf8),
        "deep.json": Array(#"{"resourceType":"Patient","x":"#.utf8) + Array(repeating: UInt8(ascii: "["), count: 10_000)
            + Array(repeating: UInt8(ascii: "]"), count: 10_000) + Array("}".utf8),
        "xxe.xml": Array(#"<?xml version="1.0"?><!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><Patient xmlns="http://hl7.org/fhir"><gender value="&xxe;"/></Patient>"#.utf8),
        "laughs.xml": Array(billionLaughs.utf8),
        "script.xml": Array(#"<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></div></text></Patient>"#.utf8),
        "script.json": Array(#"{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>alert(1)</script></div>"}}"#.utf8),
    ]

    /// Each hostile file is refused with a clear OperationOutcome, and the process stays well under 100 MB.
    @Test(arguments: [
        ("duplicate-resourceType.json", "duplicate"), ("duplicate-nested.json", "duplicate"), ("deep.json", "deeper than"),
        ("xxe.xml", "DTD"), ("laughs.xml", "DTD"), ("script.xml", "script"), ("script.json", "script"),
    ])
    func refusesHostileInputInBoundedMemory(name: String, expected: String) async throws {
        let path = try Self.temporaryFile(name, try #require(Self.hostileFiles[name]))
        let result = try await MedrecProcess.run(["validate", path])
        #expect(result.status == 1, "\(name): \(result.stderr)")
        #expect(result.stdout.contains("\"resourceType\":\"OperationOutcome\""), "\(name)")
        #expect(result.stdout.localizedCaseInsensitiveContains(expected), "\(name): \(result.stdout)")
        #expect(!result.stdout.contains("root:x:0:0"), "\(name) leaked /etc/passwd")
        #expect(result.maxRSSKilobytes < 100 * 1024, "\(name) used \(result.maxRSSKilobytes) KB")
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func validatesTheBulkExportAndReportsLineNumbers() async throws {
        let files = Fixtures.files(in: "ndjson", withExtension: "ndjson").map(\.path)
        #expect(files.count == Fixtures.expected(full: 12, vendored: 10))
        let clean = try await MedrecProcess.run(["validate"] + files)
        #expect(clean.status == 0, "\(clean.stdout.prefix(500))")
        #expect(clean.stderr.contains("\(Fixtures.expected(full: 5945, vendored: 2144)) resources checked, 0 invalid"), "\(clean.stderr.suffix(300))")

        let mixed = try Self.temporaryFile("mixed.ndjson", Array("""
            {"resourceType":"Patient","gender":"male"}
            {"resourceType":"Patient","birthDate":"1999-13-40"}

            {"resourceType":"Patient","gender":"female"}
            not json
            """.utf8))
        let result = try await MedrecProcess.run(["validate", mixed])
        #expect(result.status == 1)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first?.contains("mixed.ndjson:2:") == true)
        #expect(lines.first?.contains("Patient.birthDate") == true)
        #expect(lines.last?.contains("mixed.ndjson:5:") == true)
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func convertsBetweenJSONAndXML() async throws {
        let json = Fixtures.url("hl7-examples/json/patient-example.json").path
        let toXML = try await MedrecProcess.run(["convert", "--to", "xml", json])
        #expect(toXML.status == 0)
        let xmlPath = try Self.temporaryFile("patient.xml", Array(toXML.stdout.utf8))
        let back = try await MedrecProcess.run(["convert", "--to", "json", xmlPath])
        #expect(back.status == 0)
        let original = try FHIRJSON.parse(Data(contentsOf: URL(fileURLWithPath: json)))
        #expect(try FHIRJSON.parse(back.stdout).isEquivalent(to: original))

        // NDJSON streams into one collection Bundle whose entries are the lines.
        let ndjson = Fixtures.url("ndjson/Patient.000.ndjson").path
        let bundleXML = try await MedrecProcess.run(["convert", "--to", "xml", ndjson])
        #expect(bundleXML.status == 0, "\(bundleXML.stderr)")
        let bundle = try FHIRXMLReader.resource(from: Array(bundleXML.stdout.utf8))
        #expect(bundle["type"] == "collection")
        #expect(bundle["entry"]?.arrayValue?.count == 13)
        #expect(bundleXML.maxRSSKilobytes < 100 * 1024)
    }
}
