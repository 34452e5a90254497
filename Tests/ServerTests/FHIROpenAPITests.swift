import FHIRModels
import FixtureSupport
import Foundation
import HTTPTypes
import Synchronization
import Testing
@testable import Server

/// `GET /fhir/openapi.json`: the FHIR face described from its CapabilityStatement, with schemas
/// that real data passes and broken data fails (issue 19; fuzzed by `scripts/fuzz-fhir.sh`).
@Suite struct FHIROpenAPITests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    /// Fetches the document and the CapabilityStatement from a running app, without a token.
    static func documents() async throws -> (openAPI: JSONValue, bytes: [UInt8], capabilities: JSONValue) {
        let result = Mutex<(JSONValue, [UInt8], JSONValue)?>(nil)
        try await TestApp.run { client in
            let answer = try await client.send(.get, "/fhir/openapi.json", headers: [.authorization: ""])
            #expect(answer.status == .ok, "\(answer.text.prefix(300))")
            #expect(answer.headers[.contentType] == "application/json")
            let metadata = try await client.send(.get, "/fhir/metadata", headers: [.authorization: ""])
            #expect(metadata.status == .ok)
            let openAPI = try answer.json
            let capabilities = try metadata.json
            result.withLock { $0 = (openAPI, answer.body, capabilities) }
        }
        let (openAPI, bytes, capabilities) = try #require(result.withLock { $0 })
        return (openAPI, bytes, capabilities)
    }

    @Test func everyInteractionSearchParameterAndOperationOfTheCapabilityStatementIsAPath() async throws {
        let (document, _, capabilities) = try await Self.documents()
        #expect(document["openapi"]?.stringValue == "3.1.0")
        #expect(document["servers"]?.arrayValue?.first?["url"]?.stringValue == "/fhir")
        let paths = try #require(document["paths"]?.objectValue)
        let rest = try #require(capabilities["rest"]?.arrayValue?.first)
        let entries = try #require(rest["resource"]?.arrayValue)
        #expect(entries.count == 146)

        let methodsByInteraction: [String: (String, String)] = [
            "read": ("/{id}", "get"), "vread": ("/{id}/_history/{vid}", "get"), "update": ("/{id}", "put"),
            "patch": ("/{id}", "patch"), "delete": ("/{id}", "delete"), "history-instance": ("/{id}/_history", "get"),
            "history-type": ("/_history", "get"), "create": ("", "post"), "search-type": ("", "get"),
        ]
        var checkedOperations = 0
        var checkedParameters = 0
        for entry in entries {
            let type = try #require(entry["type"]?.stringValue)
            let interactions = (entry["interaction"]?.arrayValue ?? []).compactMap { $0["code"]?.stringValue }
            #expect(interactions.count == 9, "\(type)")
            for interaction in interactions {
                let (suffix, method) = try #require(methodsByInteraction[interaction], "\(interaction) is not described")
                #expect(paths["/\(type)\(suffix)"]?[method]?["operationId"] != nil, "\(type) \(interaction)")
                checkedOperations += 1
            }
            // Conditional update and delete, and POST _search, ride on the type's path.
            #expect(paths["/\(type)"]?["put"] != nil && paths["/\(type)"]?["delete"] != nil && paths["/\(type)/_search"]?["post"] != nil)
            // Every search parameter the statement lists is a query parameter of the search.
            let listed = Set((entry["searchParam"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
            let described = Set((paths["/\(type)"]?["get"]?["parameters"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
            #expect(listed.isSubset(of: described), "\(type): \(listed.subtracting(described).sorted())")
            checkedParameters += listed.count
            // The request and answer bodies are that type's own schema.
            #expect(paths["/\(type)"]?["post"]?["requestBody"]?["content"]?["application/fhir+json"]?["schema"]?["$ref"]?.stringValue
                == "#/components/schemas/\(type)")
        }
        #expect(checkedOperations == 146 * 9)
        #expect(checkedParameters > 2_000, "\(checkedParameters)")
        // System interactions and operations.
        for (path, method) in [("/", "post"), ("/", "get"), ("/_history", "get"), ("/metadata", "get"), ("/$export", "get"),
                               ("/Patient/$export", "get"), ("/Group/{id}/$export", "get"), ("/$import", "post"),
                               ("/Patient/{id}/$everything", "get"), ("/$bulk-status/{job}", "get"), ("/$bulk-status/{job}", "delete"),
                               ("/$bulk-file/{job}/{file}", "get")] {
            #expect(paths[path]?[method] != nil, "\(method) \(path)")
        }
        // Only the two documents are public.
        var publicOperations: [String] = []
        var operationIDs: [String] = []
        for (_, item) in paths {
            for (_, operation) in try #require(item.objectValue) {
                operationIDs.append(operation["operationId"]?.stringValue ?? "")
                if operation["security"]?.arrayValue?.isEmpty == true { publicOperations.append(operation["operationId"]?.stringValue ?? "") }
            }
        }
        #expect(Set(publicOperations) == ["capabilities", "openapi"])
        #expect(Set(operationIDs).count == operationIDs.count, "operationIds are unique")
    }

    @Test func everyReferenceResolvesAndEveryTypeHasASchema() async throws {
        let (document, _, _) = try await Self.documents()
        let components = try #require(document["components"]?.objectValue)
        var references = Set<String>()
        func walk(_ value: JSONValue) {
            switch value {
            case .object(let object):
                for (key, member) in object {
                    if key == "$ref", let target = member.stringValue { references.insert(target) } else { walk(member) }
                }
            case .array(let items): items.forEach(walk)
            default: break
            }
        }
        walk(document)
        for reference in references {
            let parts = reference.split(separator: "/").map(String.init)
            #expect(parts.count == 4 && parts[0] == "#" && parts[1] == "components", "\(reference)")
            #expect(components[parts[2]]?[parts[3]] != nil, "\(reference) does not resolve")
        }
        #expect(references.count > 500, "\(references.count)")
        let schemas = try #require(components["schemas"]?.objectValue)
        for type in FHIRMetadata.resourceTypeNames {
            #expect(schemas[type]?["properties"]?["resourceType"]?["const"]?.stringValue == type)
        }
        // A choice element is one property per type; a primitive has its `_name` sibling.
        let observation = try #require(schemas["Observation"]?["properties"]?.objectValue)
        #expect(observation["valueQuantity"]?["$ref"]?.stringValue == "#/components/schemas/Quantity")
        #expect(observation["effectiveDateTime"]?["$ref"]?.stringValue == "#/components/schemas/dateTime")
        #expect(observation["_effectiveDateTime"]?["$ref"]?.stringValue == "#/components/schemas/Element")
        #expect(observation["value[x]"] == nil && observation["value"] == nil)
        #expect(schemas["Observation"]?["required"]?.arrayValue?.contains("code") == true)
    }

    /// The primitive patterns are the `regex` extensions of the official R4 definitions, not a
    /// hand-typed approximation.
    @Test func primitivePatternsAreTheRegexesOfTheR4Definitions() throws {
        let bundle = try FHIRJSON.parse(Fixtures.data("definitions/profiles-types.json"))
        var official: [String: String] = [:]
        for entry in bundle["entry"]?.arrayValue ?? [] {
            let definition = entry["resource"] ?? .null
            guard definition["kind"]?.stringValue == "primitive-type", let name = definition["id"]?.stringValue else { continue }
            for element in definition["snapshot"]?["element"]?.arrayValue ?? [] where element["path"]?.stringValue == "\(name).value" {
                for type in element["type"]?.arrayValue ?? [] {
                    for ext in type["extension"]?.arrayValue ?? []
                    where ext["url"]?.stringValue == "http://hl7.org/fhir/StructureDefinition/regex" {
                        official[name] = ext["valueString"]?.stringValue
                    }
                }
            }
        }
        #expect(official.count >= 18, "\(official.keys.sorted())")
        for (name, regex) in official where FHIRMetadata.primitiveJSONKind(of: name) == .string {
            #expect(FHIRSchemas.primitivePatterns[name] == regex, "\(name): the spec says \(regex)")
        }
        for (name, _) in FHIRSchemas.primitivePatterns {
            #expect(official[name] != nil, "\(name) has no regex in the definitions")
        }
    }

    /// What schemathesis found (`scripts/fuzz-fhir.sh`): an unknown parameter with an empty or
    /// control-character name was echoed as `expression: [""]`, an invalid FHIR string, making the
    /// OperationOutcome break its own schema. The answer stays 400 and names no such expression.
    @Test func refusedParameterNamesNeverMakeAnInvalidOperationOutcome() async throws {
        try await TestApp.run { client in
            let created = try await client.sendJSON(.post, "/fhir/Patient", ["resourceType": "Patient", "gender": "female"])
            let id = try #require(created.json["id"]?.stringValue)
            for query in ["/fhir/Patient/_history?=&_since=2020-01-01", "/fhir/Patient/\(id)/$everything?=true",
                          "/fhir/Patient/\(id)/_history?=false", "/fhir/Patient/_history?%C2%A0x=1", "/fhir/_history?%1C%13=2",
                          "/fhir/Patient/_history?bogus=1"] {
                let answer = try await client.send(.get, query)
                #expect(answer.status == .badRequest, "\(query): \(answer.status)")
                let issue = try #require(answer.json["issue"]?.arrayValue?.first, "\(query)")
                #expect(issue["code"]?.stringValue == "not-supported", "\(query)")
                for expression in issue["expression"]?.arrayValue ?? [] {
                    let text = try #require(expression.stringValue)
                    #expect(!text.isEmpty && !text.unicodeScalars.contains { $0.properties.isWhitespace || $0.value < 0x20 }, "\(query): \(text.debugDescription)")
                }
            }
            // A chain with an empty head (`.x`) crashed the server (index out of range): it is an
            // unknown parameter, on GET and on POST _search, strict or lenient.
            for query in ["/fhir/Patient?.x=1", "/fhir/Patient?.=1", "/fhir/Patient?:Patient.name=x", "/fhir/?.x=1"] {
                let lenient = try await client.send(.get, query)
                #expect(lenient.status == .ok || lenient.status == .badRequest, "\(query): \(lenient.status)")
                let strict = try await client.send(.get, query, headers: [HTTPField.Name("Prefer")!: "handling=strict"])
                #expect(strict.status == .badRequest, "\(query) strict: \(strict.status)")
            }
            let posted = try await client.send(
                .post, "/fhir/Patient/_search", headers: [.contentType: "application/x-www-form-urlencoded"], body: Array(".x=1&%C3%81=2".utf8))
            #expect(posted.status == .ok || posted.status == .badRequest, "\(posted.status)")
            // A well-formed unknown name is still named, which is what helps a client.
            let named = try await client.send(.get, "/fhir/Patient/_history?bogus=1")
            #expect(try named.json["issue"]?.arrayValue?.first?["expression"]?.arrayValue?.first?.stringValue == "bogus")
        }
    }

    /// openapi-spec-validator accepts the document; every HL7 example and Synthea resource passes
    /// its type's schema (jsonschema, 2020-12); broken copies do not.
    @Test(.timeLimit(.minutes(5)))
    func theDocumentIsValidOpenAPIAndRealDataPassesItsSchemas() async throws {
        let (_, bytes, _) = try await Self.documents()
        let directory = try TemporaryDirectory.make(prefix: "medrec-fhir-openapi")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/openapi.json"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let fixtures = try #require(Fixtures.root)

        // Not a blocking wait (the checker takes minutes on a loaded machine): see ExternalTool.
        let result = try await ExternalTool.run(
            "/usr/bin/env", ["python3", Self.repository.appendingPathComponent("scripts/check-fhir-openapi.py").path, path, fixtures.path])
        let text = result.output
        #expect(result.status != 2, "install the checker's modules: pip install openapi-spec-validator==0.9.0\n\(text)")
        #expect(result.status == 0, "\(text.suffix(3_000))")
        let figures = Dictionary(
            text.split(separator: "\n").compactMap { line -> (String, Int)? in
                let parts = line.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, let value = Int(parts[1]) else { return nil }
                return (String(parts[0]), value)
            }, uniquingKeysWith: { $1 })
        #expect(figures["openapi_valid"] == 1)
        let examples = Fixtures.expected(full: 161, vendored: 32)
        #expect(figures["hl7_examples"] == examples && figures["hl7_examples_valid"] == examples, "\(figures)")
        #expect(figures["synthea_bundles"] == Fixtures.expected(full: 34, vendored: 8), "\(figures)")
        #expect((figures["synthea_resources"] ?? 0) > 1_000 && figures["synthea_resources_valid"] == figures["synthea_resources"], "\(figures)")
        #expect(figures["mutations"] == 18 && figures["mutations_refused"] == 18, "\(figures)")
        #expect(figures["failures"] == 0)
    }
}
