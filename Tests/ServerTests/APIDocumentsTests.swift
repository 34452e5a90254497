import FHIRModels
import Foundation
import HTTPTypes
import HummingbirdTesting
import Mapping
import Testing
@testable import Server

/// The published API documents: served without a token, the same as the files in
/// `Sources/Server/Resources` (the generators' output),
/// in step with the router (a route the document lacks, or a documented route the server lacks,
/// fails here), with examples the server itself accepts; and the profiles of `profiles/` served
/// on the FHIR face.
@Suite struct APIDocumentsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func document() throws -> JSONValue {
        try FHIRJSON.parse(Array(APIDocuments.openAPI.utf8))
    }

    /// The bundle the server reads (`Bundle.module`, in the build directory) holds the files of
    /// the source tree, not a stale copy.
    @Test func servedDocumentsAreTheFilesInTheSourceTree() throws {
        let json = try String(contentsOf: Self.root.appendingPathComponent("Sources/Server/Resources/openapi.json"), encoding: .utf8)
        let page = try String(contentsOf: Self.root.appendingPathComponent("Sources/Server/Resources/api.html"), encoding: .utf8)
        #expect(APIDocuments.openAPI == json, "rebuild: the resource bundle is stale")
        #expect(APIDocuments.page == page, "rebuild: the resource bundle is stale")
    }

    @Test func documentAndRouterDescribeTheSameOperations() throws {
        let document = try Self.document()
        #expect(document["openapi"]?.stringValue?.hasPrefix("3.1") == true)
        let paths = try #require(document["paths"]?.objectValue)
        var documented = Set<String>()
        for (path, item) in paths where PlatformRoutes.collections.contains(where: { path.hasPrefix("/\($0.path)") }) {
            for method in ["get", "put", "post", "delete", "patch", "head", "options"] where item[method] != nil {
                documented.insert("\(method.uppercased()) \(path)")
            }
        }
        let routed = Set(PlatformRoutes.all.map { "\($0.method.rawValue) \($0.path)" })
        #expect(routed.count == 30)
        #expect(documented.subtracting(routed).isEmpty, "documented but not served: \(documented.subtracting(routed).sorted())")
        #expect(routed.subtracting(documented).isEmpty, "served but not documented: \(routed.subtracting(documented).sorted())")
        for path in ["/auth/register", "/auth/login", "/auth/logout", "/openapi.json", "/docs"] {
            #expect(paths[path] != nil, "\(path) is not documented")
        }
        // Every platform operation documents its errors in the one error shape.
        for (path, item) in paths where PlatformRoutes.collections.contains(where: { path.hasPrefix("/\($0.path)") }) {
            for (method, operation) in item.objectValue ?? JSONObject() where operation["responses"] != nil {
                let responses = operation["responses"]?.objectValue ?? JSONObject()
                #expect(responses.keys.contains { $0.hasPrefix("4") }, "\(method) \(path) documents no 4xx")
                #expect(responses["401"] != nil, "\(method) \(path) documents no 401")
            }
        }
    }

    /// Request examples of POST/PUT decode as the models the server decodes.
    @Test func requestExamplesAreAcceptedByTheModels() throws {
        let document = try Self.document()
        let paths = try #require(document["paths"]?.objectValue)
        var checked = 0
        for (collection, _) in PlatformRoutes.collections {
            for path in ["/\(collection)", "/\(collection)/{id}"] {
                for method in ["post", "put"] {
                    guard let media = paths[path]?[method]?["requestBody"]?["content"]?["application/json"] else { continue }
                    var examples: [JSONValue] = []
                    if let example = media["example"] { examples.append(example) }
                    for (_, named) in media["examples"]?.objectValue ?? JSONObject() {
                        if let value = named["value"] { examples.append(value) }
                        if let reference = named["$ref"]?.stringValue, let value = Self.resolve(reference, in: document)?["value"] {
                            examples.append(value)
                        }
                    }
                    #expect(!examples.isEmpty, "\(method) \(path) has no request example")
                    for example in examples {
                        let issues = Self.issues(decoding: example, collection: collection)
                        #expect(issues.isEmpty, "\(method) \(path) example: \(issues)")
                        checked += 1
                    }
                }
            }
        }
        #expect(checked >= 12)
    }

    static func resolve(_ reference: String, in document: JSONValue) -> JSONValue? {
        guard reference.hasPrefix("#/") else { return nil }
        var current: JSONValue? = document
        for part in reference.dropFirst(2).split(separator: "/") { current = current?[String(part)] }
        return current
    }

    static func issues(decoding example: JSONValue, collection: String) -> [FieldIssue] {
        let body = example.objectValue ?? JSONObject()
        do {
            switch collection {
            case "patients": _ = try PatientDTO(body: body)
            case "doctors": _ = try DoctorDTO(body: body)
            case "appointments": _ = try AppointmentDTO(body: body)
            case "medical-records": _ = try MedicalRecordDTO(body: body)
            case "prescriptions": _ = try PrescriptionDTO(body: body)
            case "billings": _ = try BillingDTO(body: body)
            default: return [FieldIssue(field: collection, issue: "unknown collection")]
            }
            return []
        } catch {
            return error.issues
        }
    }

    @Test func documentsAreServedWithoutATokenAndThePageWorksOffline() async throws {
        try await TestApp.run { client in
            let json = try await client.send(.get, "/openapi.json", headers: [.authorization: ""])
            #expect(json.status == .ok)
            #expect(json.headers[.contentType]?.hasPrefix("application/json") == true)
            #expect(try json.json["openapi"]?.stringValue?.hasPrefix("3.1") == true)
            let page = try await client.send(.get, "/docs", headers: [.authorization: ""])
            #expect(page.status == .ok)
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(page.text.contains("/patients/{id}"))
            // Nothing is fetched from elsewhere: no scripts, stylesheets, fonts or images by URL.
            let lowered = page.text.lowercased()
            for pattern in ["<script", "<link", "@import", "src=\"http", "src='http", "url(http", "url(\"http", "url('http"] {
                #expect(!lowered.contains(pattern), "the docs page contains \(pattern)")
            }
            #expect(page.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
        }
    }

    @Test func profilesAreServedAsStructureDefinitions() async throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("profiles").path)
            .filter { $0.hasSuffix(".json") && $0 != "encryption-policy.json" }
        #expect(files.count >= 8)
        #expect(PlatformProfiles.all.count == files.count)
        try await TestApp.run { client in
            for file in files {
                let profile = try FHIRJSON.parse(Data(contentsOf: Self.root.appendingPathComponent("profiles/\(file)")))
                let id = try #require(profile["id"]?.stringValue)
                let served = try await client.send(.get, "/fhir/StructureDefinition/\(id)")
                #expect(served.status == .ok, "\(id)")
                #expect(try served.json.isEquivalent(to: profile))
                #expect(FHIRValidator().validate(profile).hasErrors == false, "\(file) is not a valid StructureDefinition")
                let xml = try await client.send(.get, "/fhir/StructureDefinition/\(id)?_format=xml")
                #expect(try xml.xmlAsJSON.isEquivalent(to: profile))
            }
        }
    }
}
