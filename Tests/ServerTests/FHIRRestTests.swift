import FHIRModels
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server

@Suite("FHIR REST interactions")
struct FHIRRestTests {
    static let patient: JSONValue = [
        "resourceType": "Patient",
        "identifier": [["system": "urn:oid:1.2.36.146.595.217.0.1", "value": "12345"]],
        "name": [["family": "Chalmers", "given": ["Peter", "James"]]],
        "gender": "male",
        "birthDate": "1974-12-25",
    ]

    @Test func createReadUpdateDeleteWithVersionsAndHistory() async throws {
        try await TestApp.run { client in
            let created = try await client.sendJSON(.post, "/fhir/Patient", Self.patient)
            #expect(created.status == .created)
            let body = try created.json
            let id = try #require(body["id"]?.stringValue)
            #expect(body["meta"]?["versionId"] == "1")
            #expect(body["meta"]?["lastUpdated"]?.stringValue != nil)
            #expect(created.headers[.eTag] == "W/\"1\"")
            #expect(created.headers[.location]?.hasSuffix("/fhir/Patient/\(id)/_history/1") == true)
            #expect(created.headers[.lastModified] != nil)

            let read = try await client.send(.get, "/fhir/Patient/\(id)")
            #expect(read.status == .ok)
            #expect(read.headers[.contentType]?.hasPrefix("application/fhir+json") == true)
            #expect(try read.json["name"]?.isEquivalent(to: Self.patient["name"]!) == true)

            var update = try body.objectValue.unwrap()
            update["gender"] = "other"
            let updated = try await client.sendJSON(.put, "/fhir/Patient/\(id)", .object(update), headers: [.ifMatch: "W/\"1\""])
            #expect(updated.status == .ok)
            #expect(try updated.json["meta"]?["versionId"] == "2")
            #expect(updated.headers[.eTag] == "W/\"2\"")

            // A stale If-Match is refused and changes nothing.
            update["gender"] = "female"
            let stale = try await client.sendJSON(.put, "/fhir/Patient/\(id)", .object(update), headers: [.ifMatch: "W/\"1\""])
            #expect(stale.status == .preconditionFailed)
            #expect(try stale.json["resourceType"] == "OperationOutcome")
            let third = try await client.sendJSON(.put, "/fhir/Patient/\(id)", .object(update), headers: [.ifMatch: "W/\"2\""])
            #expect(third.status == .ok)

            let deleted = try await client.send(.delete, "/fhir/Patient/\(id)")
            #expect(deleted.status == .noContent)
            let gone = try await client.send(.get, "/fhir/Patient/\(id)")
            #expect(gone.status == .gone)
            #expect(try gone.json["resourceType"] == "OperationOutcome")

            // vread of each version; the deletion is version 4.
            for (version, gender) in [(1, "male"), (2, "other"), (3, "female")] {
                let old = try await client.send(.get, "/fhir/Patient/\(id)/_history/\(version)")
                #expect(old.status == .ok)
                #expect(try old.json["gender"]?.stringValue == gender)
                #expect(try old.json["meta"]?["versionId"]?.stringValue == String(version))
            }
            #expect(try await client.send(.get, "/fhir/Patient/\(id)/_history/4").status == .gone)
            #expect(try await client.send(.get, "/fhir/Patient/\(id)/_history/5").status == .notFound)

            let history = try await client.send(.get, "/fhir/Patient/\(id)/_history")
            #expect(history.status == .ok)
            let entries = try #require(try history.json["entry"]?.arrayValue)
            #expect(entries.map { $0["request"]?["method"]?.stringValue } == ["DELETE", "PUT", "PUT", "POST"])
            #expect(entries.first?["resource"] == nil)

            let typeHistory = try await client.send(.get, "/fhir/Patient/_history")
            #expect(try typeHistory.json["entry"]?.arrayValue?.count == 4)
            #expect(try typeHistory.json["type"] == "history")

            // An update that creates is recorded as the PUT it was, alone or in a transaction.
            let putCreated = try await client.sendJSON(.put, "/fhir/Patient/made-by-put", ["resourceType": "Patient", "id": "made-by-put"])
            #expect(putCreated.status == .created)
            let putHistory = try await client.send(.get, "/fhir/Patient/made-by-put/_history").json
            #expect(putHistory["entry"]?[0]?["request"]?["method"]?.stringValue == "PUT")
            let bundle: JSONValue = ["resourceType": "Bundle", "type": "transaction", "entry": [
                ["resource": ["resourceType": "Patient", "id": "put-in-bundle"], "request": ["method": "PUT", "url": "Patient/put-in-bundle"]],
                ["resource": ["resourceType": "Patient"], "request": ["method": "POST", "url": "Patient"]],
            ]]
            #expect(try await client.sendJSON(.post, "/fhir", bundle).status == .ok)
            let bundleHistory = try await client.send(.get, "/fhir/Patient/put-in-bundle/_history").json
            #expect(bundleHistory["entry"]?[0]?["request"]?["method"]?.stringValue == "PUT")
        }
    }

    @Test func historyPagesWithCountSinceAndNextLinks() async throws {
        try await TestApp.run { client in
            let start = Date().addingTimeInterval(-1)
            for _ in 0..<5 { _ = try await client.sendJSON(.post, "/fhir/Patient", Self.patient) }
            var url: String? = "/fhir/_history?_count=2"
            var seen: [String] = []
            var pages = 0
            while let next = url {
                let page = try await client.send(.get, next)
                #expect(page.status == .ok)
                let bundle = try page.json
                for entry in bundle["entry"]?.arrayValue ?? [] { seen.append(entry["fullUrl"]?.stringValue ?? "") }
                let nextLink = bundle["link"]?.arrayValue?.first { $0["relation"] == "next" }?["url"]?.stringValue
                url = nextLink.map { link in String(link[link.range(of: "/fhir/")!.lowerBound...]) }
                pages += 1
                #expect(pages < 10)
            }
            #expect(pages == 3)
            #expect(Set(seen).count == 5)
            let since = StoreTimestamp.string(start)
            let recent = try await client.send(.get, "/fhir/Patient/_history?_since=\(since.replacingOccurrences(of: "+", with: "%2B"))")
            #expect(try recent.json["entry"]?.arrayValue?.count == 5)
            let future = try await client.send(.get, "/fhir/Patient/_history?_since=2999-01-01T00:00:00Z")
            #expect(try future.json["entry"] == nil)
            #expect(try await client.send(.get, "/fhir/Patient/_history?_since=yesterday").status == .badRequest)
        }
    }

    @Test func concurrentUpdatesWithTheSameIfMatchLetExactlyOneWin() async throws {
        try await TestApp.run { client in
            let created = try await client.sendJSON(.post, "/fhir/Patient", Self.patient)
            var resource = try created.json.objectValue.unwrap()
            let id = try #require(resource["id"]?.stringValue)
            resource["active"] = true
            let body = JSONValue.object(resource)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        try await client.sendJSON(.put, "/fhir/Patient/\(id)", body, headers: [.ifMatch: "W/\"1\""]).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .ok }.count == 1, "\(statuses)")
            #expect(statuses.filter { $0 == .preconditionFailed }.count == 5, "\(statuses)")
            #expect(try await client.send(.get, "/fhir/Patient/\(id)").json["meta"]?["versionId"] == "2")
        }
    }

    @Test func conditionalCreateUpdateAndDelete() async throws {
        try await TestApp.run { client in
            let condition = "identifier=urn:oid:1.2.36.146.595.217.0.1|12345"
            let first = try await client.sendJSON(.post, "/fhir/Patient", Self.patient, headers: [.ifNoneExist: condition])
            #expect(first.status == .created)
            let second = try await client.sendJSON(.post, "/fhir/Patient", Self.patient, headers: [.ifNoneExist: condition])
            #expect(second.status == .ok)
            #expect(try second.json["id"] == first.json["id"])
            let search = try await client.send(.get, "/fhir/Patient?identifier=urn:oid:1.2.36.146.595.217.0.1%7C12345&_total=accurate")
            #expect(try search.json["total"] == .number("1"))
            #expect(try search.json["entry"]?.arrayValue?.count == 1)

            var changed = try Self.patient.objectValue.unwrap()
            changed["active"] = false
            let update = try await client.sendJSON(.put, "/fhir/Patient?\(condition)", .object(changed))
            #expect(update.status == .ok)
            #expect(try update.json["id"] == first.json["id"])
            #expect(try update.json["meta"]?["versionId"] == "2")

            // No match: the conditional update creates.
            let creates = try await client.sendJSON(.put, "/fhir/Patient?identifier=urn:x|other", .object(changed))
            #expect(creates.status == .created)

            // Two matches: 412 for a conditional create.
            _ = try await client.sendJSON(.post, "/fhir/Patient", Self.patient)
            let ambiguous = try await client.sendJSON(.post, "/fhir/Patient", Self.patient, headers: [.ifNoneExist: condition])
            #expect(ambiguous.status == .preconditionFailed)

            let id = try #require(try creates.json["id"]?.stringValue)
            let deleted = try await client.send(.delete, "/fhir/Patient?_id=\(id)")
            #expect(deleted.status == .noContent)
            #expect(try await client.send(.get, "/fhir/Patient/\(id)").status == .gone)
        }
    }

    @Test func jsonPatchUpdatesAndRefusesBadPatches() async throws {
        try await TestApp.run { client in
            let created = try await client.sendJSON(.post, "/fhir/Patient", Self.patient)
            let id = try #require(try created.json["id"]?.stringValue)
            let patch = Array(#"[{"op":"replace","path":"/gender","value":"female"},{"op":"add","path":"/active","value":true}]"#.utf8)
            let patched = try await client.send(.patch, "/fhir/Patient/\(id)", headers: [.contentType: "application/json-patch+json"], body: patch)
            #expect(patched.status == .ok)
            #expect(try patched.json["gender"] == "female")
            #expect(try patched.json["active"] == .bool(true))
            #expect(try patched.json["meta"]?["versionId"] == "2")

            let invalid = Array(#"[{"op":"replace","path":"/gender","value":"not a code with spaces  "}]"#.utf8)
            let refused = try await client.send(.patch, "/fhir/Patient/\(id)", headers: [.contentType: "application/json-patch+json"], body: invalid)
            #expect(refused.status == .unprocessableContent)
            let failedTest = Array(#"[{"op":"test","path":"/gender","value":"male"}]"#.utf8)
            let testFailed = try await client.send(.patch, "/fhir/Patient/\(id)", headers: [.contentType: "application/json-patch+json"], body: failedTest)
            #expect(testFailed.status == .unprocessableContent)
            let stale = try await client.send(
                .patch, "/fhir/Patient/\(id)", headers: [.contentType: "application/json-patch+json", .ifMatch: "W/\"1\""], body: patch)
            #expect(stale.status == .preconditionFailed)
            #expect(try await client.send(.get, "/fhir/Patient/\(id)").json["meta"]?["versionId"] == "2")
        }
    }

    @Test func formatsAndPreferences() async throws {
        try await TestApp.run { client in
            let xml = try FHIRXMLWriter.document(for: Self.patient)
            let created = try await client.send(
                .post, "/fhir/Patient", headers: [.contentType: "application/fhir+xml", .accept: "application/fhir+xml"], body: xml)
            #expect(created.status == .created)
            #expect(created.headers[.contentType]?.hasPrefix("application/fhir+xml") == true)
            let id = try #require(try created.xmlAsJSON["id"]?.stringValue)

            let viaFormat = try await client.send(.get, "/fhir/Patient/\(id)?_format=xml")
            #expect(try viaFormat.xmlAsJSON["name"] == Self.patient["name"])
            let pretty = try await client.send(.get, "/fhir/Patient/\(id)?_pretty=true")
            #expect(pretty.text.contains("\n  \"resourceType\": \"Patient\""))
            #expect(try await client.send(.get, "/fhir/Patient/\(id)", headers: [.accept: "text/html"]).status == .notAcceptable)
            #expect(try await client.send(.get, "/fhir/Patient/\(id)?_format=pdf").status == .notAcceptable)
            let wrongMedia = try await client.send(.post, "/fhir/Patient", headers: [.contentType: "text/plain"], body: Array("x".utf8))
            #expect(wrongMedia.status == .unsupportedMediaType)
            #expect(try wrongMedia.json["resourceType"] == "OperationOutcome")

            let minimal = try await client.sendJSON(.post, "/fhir/Patient", Self.patient, headers: [.prefer: "return=minimal"])
            #expect(minimal.status == .created)
            #expect(minimal.body.isEmpty)
            #expect(minimal.headers[.location] != nil)
            let outcome = try await client.sendJSON(.post, "/fhir/Patient", Self.patient, headers: [.prefer: "return=OperationOutcome"])
            #expect(try outcome.json["resourceType"] == "OperationOutcome")
        }
    }

    @Test func capabilityStatementInJSONAndXML() async throws {
        try await TestApp.run { client in
            let json = try await client.send(.get, "/fhir/metadata")
            #expect(json.status == .ok)
            let statement = try json.json
            #expect(statement["resourceType"] == "CapabilityStatement")
            #expect(statement["fhirVersion"] == "4.0.1")
            #expect(FHIRValidator().validate(statement).hasErrors == false)
            let resources = try #require(statement["rest"]?.arrayValue?.first?["resource"]?.arrayValue)
            #expect(resources.count == 146)
            // The security section names SMART on FHIR and the token endpoint; metadata needs no token.
            let security = statement["rest"]?.arrayValue?.first?["security"]
            #expect(security?["service"]?.arrayValue?.first?["coding"]?.arrayValue?.first?["code"] == "SMART-on-FHIR")
            #expect(FHIRJSON.string(security ?? .null).contains("/auth/token"))
            #expect(try await client.send(.get, "/fhir/metadata", headers: [.authorization: ""]).status == .ok)
            let xml = try await client.send(.get, "/fhir/metadata", headers: [.accept: "application/fhir+xml"])
            #expect(try xml.xmlAsJSON.isEquivalent(to: statement))
        }
    }

    @Test func badRequestsGetOperationOutcomesAndStoreNothing() async throws {
        var settings = ServerSettings()
        settings.limits.maxBodyBytes = 64 * 1024
        try await TestApp.run(settings: settings) { client in
            let json: HTTPFields = [.contentType: "application/fhir+json"]
            let xml: HTTPFields = [.contentType: "application/fhir+xml"]
            let cases: [(String, HTTPRequest.Method, String, HTTPFields, [UInt8], HTTPResponse.Status)] = [
                ("malformed JSON", .post, "/fhir/Patient", json, Array(#"{"resourceType":"Patient","#.utf8), .badRequest),
                ("duplicate keys", .post, "/fhir/Patient", json, Array(#"{"resourceType":"Patient","gender":"male","gender":"female"}"#.utf8), .badRequest),
                ("DTD in XML", .post, "/fhir/Patient", xml, Array(#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Patient xmlns="http://hl7.org/fhir"><gender value="&e;"/></Patient>"#.utf8), .badRequest),
                ("wrong resourceType", .post, "/fhir/Patient", json, Array(#"{"resourceType":"Observation","status":"final","code":{"text":"x"}}"#.utf8), .badRequest),
                ("unknown type", .post, "/fhir/Patientx", json, Array(#"{"resourceType":"Patientx"}"#.utf8), .notFound),
                ("invalid resource", .post, "/fhir/Patient", json, Array(#"{"resourceType":"Patient","gender":12}"#.utf8), .unprocessableContent),
                ("unknown element", .post, "/fhir/Patient", json, Array(#"{"resourceType":"Patient","favouriteColour":"blue"}"#.utf8), .unprocessableContent),
                ("code outside a required value set", .post, "/fhir/Observation", json, Array(#"{"resourceType":"Observation","status":"done","code":{"text":"x"}}"#.utf8), .unprocessableContent),
                ("id differs from URL", .put, "/fhir/Patient/abc", json, Array(#"{"resourceType":"Patient","id":"xyz"}"#.utf8), .badRequest),
                ("bad id format", .put, "/fhir/Patient/a%20b", json, Array(#"{"resourceType":"Patient","id":"a b"}"#.utf8), .badRequest),
                ("oversized body", .post, "/fhir/Patient", json, Array(#"{"resourceType":"Patient","name":[{"text":""#.utf8) + Array(repeating: UInt8(ascii: "a"), count: 70_000) + Array(#""}]}"#.utf8), .contentTooLarge),
                ("unknown search parameter, strict handling", .get, "/fhir/Patient?favourite=blue", [.prefer: "handling=strict"], [], .badRequest),
                ("bad date in a search", .get, "/fhir/Patient?birthdate=1970-13-45", [:], [], .badRequest),
                ("unknown prefix in a search", .get, "/fhir/Patient?birthdate=xx1970", [:], [], .badRequest),
                ("unsupported _sort", .get, "/fhir/Patient?_sort=_content", [:], [], .badRequest),
                ("unknown path", .get, "/fhir/Patient/1/_history/1/extra", [:], [], .notFound),
                ("unknown method on a type", .patch, "/fhir/Patient", json, Array("[]".utf8), .notFound),
                ("injection in a search value", .get, "/fhir/Patient?_id=1'%3B%20DROP%20TABLE%20resource%3B--", [:], [], .badRequest),
            ]
            for (label, method, uri, headers, body, expected) in cases {
                let response = try await client.send(method, uri, headers: headers, body: body.isEmpty ? nil : body)
                #expect(response.status == expected, "\(label)")
                #expect((try? response.json["resourceType"]) == "OperationOutcome", "\(label): \(response.status) \(response.text.prefix(200))")
                #expect(!response.text.contains("root:"), "\(label)")
            }
            let history = try await client.send(.get, "/fhir/_history")
            #expect(try history.json["entry"] == nil, "nothing was stored")
        }
    }
}

extension Optional {
    func unwrap(sourceLocation: SourceLocation = #_sourceLocation) throws -> Wrapped {
        try #require(self, sourceLocation: sourceLocation)
    }
}
