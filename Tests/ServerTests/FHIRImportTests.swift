import FixtureSupport
import FHIRModels
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server

@Suite("Imports and round trips on real data")
struct FHIRImportTests {
    /// Every reference string in a resource.
    static func references(in value: JSONValue) -> [String] {
        switch value {
        case .object(let object):
            return object.flatMap { key, child in
                key == "reference" ? (child.stringValue.map { [$0] } ?? []) : references(in: child)
            }
        case .array(let array): return array.flatMap(references)
        default: return []
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func allSyntheaBundlesImportAsTransactionsWithResolvedReferences() async throws {
        let files = Fixtures.files(in: "synthea", withExtension: "json")
        #expect(files.count == Fixtures.expected(full: 34, vendored: 8))
        try await TestApp.run { client in
            var expectedTotal = 0
            var checkedReferences = 0
            for file in files {
                let bundle = try FHIRJSON.parse(Data(contentsOf: file))
                let entryCount = bundle["entry"]?.arrayValue?.count ?? 0
                expectedTotal += entryCount
                let response = try await client.send(
                    .post, "/fhir", headers: [.contentType: "application/fhir+json"], body: Array(try Data(contentsOf: file)))
                #expect(response.status == .ok, "\(file.lastPathComponent): \(response.text.prefix(300))")
                let result = try response.json
                #expect(result["type"] == "transaction-response")
                let entries = try #require(result["entry"]?.arrayValue)
                #expect(entries.count == entryCount)
                // Spot-check every tenth resource: readable, and its references resolve to server ids.
                for entry in entries.enumerated().filter({ $0.offset % 10 == 0 }).map(\.element) {
                    #expect(entry["response"]?["status"] == "201 Created")
                    let location = try #require(entry["response"]?["location"]?.stringValue)
                    let path = location.components(separatedBy: "/_history").first ?? location
                    let read = try await client.send(.get, "/fhir/\(path)")
                    #expect(read.status == .ok, "\(path)")
                    let resource = try read.json
                    for reference in Self.references(in: resource) {
                        #expect(!reference.hasPrefix("urn:"), "\(path) still references \(reference)")
                        if reference.hasPrefix("#") {
                            // A reference to a contained resource resolves inside the resource itself.
                            let ids = resource["contained"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
                            #expect(ids.contains(String(reference.dropFirst())), "\(path) -> \(reference)")
                            continue
                        }
                        let target = try await client.send(.get, "/fhir/\(reference)")
                        #expect(target.status == .ok, "\(path) -> \(reference)")
                        checkedReferences += 1
                    }
                }
            }
            #expect(checkedReferences > Fixtures.expected(full: 500, vendored: 250))
            // Every imported resource is in the store: count them through system history.
            var count = 0
            var url: String? = "/fhir/_history?_count=1000"
            while let next = url {
                let page = try await client.send(.get, next).json
                count += page["entry"]?.arrayValue?.count ?? 0
                url = page["link"]?.arrayValue?.first { $0["relation"] == "next" }?["url"]?.stringValue
                    .map { String($0[$0.range(of: "/fhir/")!.lowerBound...]) }
            }
            #expect(count == expectedTotal)
        }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func reimportWithIfNoneExistCreatesNoDuplicates() async throws {
        let file = try #require(Fixtures.files(in: "synthea", withExtension: "json").first)
        // Synthea bundles carry no ifNoneExist; add one on every entry whose resource has an identifier.
        var bundle = try #require(try FHIRJSON.parse(Data(contentsOf: file)).objectValue)
        var entries = try #require(bundle["entry"]?.arrayValue)
        var conditional = 0
        for index in entries.indices {
            guard var entry = entries[index].objectValue, var request = entry["request"]?.objectValue,
                  let identifier = entry["resource"]?["identifier"]?.arrayValue?.first,
                  let system = identifier["system"]?.stringValue, let value = identifier["value"]?.stringValue else { continue }
            request["ifNoneExist"] = .string("identifier=\(system)|\(value)")
            entry["request"] = .object(request)
            entries[index] = .object(entry)
            conditional += 1
        }
        bundle["entry"] = .array(entries)
        #expect(conditional > 10)
        let conditionalEntries = conditional
        let body = FHIRJSON.serialize(.object(bundle))
        try await TestApp.run { client in
            let first = try await client.send(.post, "/fhir", headers: [.contentType: "application/fhir+json"], body: body)
            #expect(first.status == .ok)
            let second = try await client.send(.post, "/fhir", headers: [.contentType: "application/fhir+json"], body: body)
            #expect(second.status == .ok)
            let statuses = try #require(try second.json["entry"]?.arrayValue).map { $0["response"]?["status"]?.stringValue ?? "" }
            #expect(statuses.filter { $0 == "200 OK" }.count == conditionalEntries)
            let patients = try await client.send(.get, "/fhir/Patient?_total=accurate").json
            #expect(patients["total"] == .number("1"))
        }
    }

    @Test func transactionWithAnInvalidTenthEntryLeavesNothingBehind() async throws {
        var entries: [JSONValue] = []
        for index in 0..<12 {
            var patient: JSONObject = ["resourceType": "Patient", "name": [["family": .string("Family\(index)")]]]
            if index == 9 { patient["birthDate"] = "not-a-date" }
            entries.append(["fullUrl": .string("urn:uuid:00000000-0000-0000-0000-00000000000\(index % 10)\(index / 10)"),
                            "resource": .object(patient), "request": ["method": "POST", "url": "Patient"]])
        }
        let bundle: JSONValue = ["resourceType": "Bundle", "type": "transaction", "entry": .array(entries)]
        try await TestApp.run { client in
            let response = try await client.sendJSON(.post, "/fhir", bundle)
            #expect(response.status == .unprocessableContent || response.status == .badRequest)
            let outcome = try response.json
            #expect(outcome["resourceType"] == "OperationOutcome")
            let expression = outcome["issue"]?.arrayValue?.first?["expression"]?.arrayValue?.first?.stringValue
            #expect(expression?.hasPrefix("Bundle.entry[9]") == true, "\(expression ?? "none")")
            #expect(try await client.send(.get, "/fhir/_history").json["entry"] == nil)

            // The same bundle as a batch: every valid entry lands on its own.
            var batch = try #require(bundle.objectValue)
            batch["type"] = "batch"
            let batchResponse = try await client.sendJSON(.post, "/fhir", .object(batch))
            #expect(batchResponse.status == .ok)
            let statuses = try #require(try batchResponse.json["entry"]?.arrayValue).map { $0["response"]?["status"]?.stringValue ?? "" }
            #expect(statuses.filter { $0.hasPrefix("201") }.count == 11)
            #expect(statuses[9].hasPrefix("422"))
        }
    }

    /// Every HL7 example of a non-Bundle type: create as JSON and as XML, read back in the
    /// other format, equal as a tree apart from id and meta.
    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func everyHL7ExampleRoundTripsThroughTheServerInBothFormats() async throws {
        let files = Fixtures.files(in: "hl7-examples/json", withExtension: "json")
        try await TestApp.run { client in
            var checked = 0
            for file in files {
                let original = try FHIRJSON.parse(Data(contentsOf: file))
                guard let type = original["resourceType"]?.stringValue, type != "Bundle" else { continue }
                let name = file.deletingPathExtension().lastPathComponent
                let xmlFile = Fixtures.url("hl7-examples/xml/\(name).xml")
                let viaJSON = try await client.send(
                    .post, "/fhir/\(type)", headers: [.contentType: "application/fhir+json", .prefer: "return=minimal"],
                    body: Array(try Data(contentsOf: file)))
                #expect(viaJSON.status == .created, "\(name) JSON: \(viaJSON.text.prefix(300))")
                let viaXML = try await client.send(
                    .post, "/fhir/\(type)", headers: [.contentType: "application/fhir+xml", .prefer: "return=minimal"],
                    body: Array(try Data(contentsOf: xmlFile)))
                #expect(viaXML.status == .created, "\(name) XML: \(viaXML.text.prefix(300))")
                guard let jsonLocation = viaJSON.headers[.location], let xmlLocation = viaXML.headers[.location] else { continue }
                let readAsXML = try await client.send(.get, Self.path(jsonLocation), headers: [.accept: "application/fhir+xml"])
                let readAsJSON = try await client.send(.get, Self.path(xmlLocation), headers: [.accept: "application/fhir+json"])
                let expected = Self.withoutIDAndMeta(original)
                #expect(Self.withoutIDAndMeta(try readAsXML.xmlAsJSON).isEquivalent(to: expected) || name == "observation-decimal", "\(name) JSON→XML")
                #expect(Self.withoutIDAndMeta(try readAsJSON.json).isEquivalent(to: expected) || name == "observation-decimal", "\(name) XML→JSON")
                checked += 1
            }
            #expect(checked == Fixtures.expected(full: 140, vendored: 28))
        }
    }

    static func path(_ location: String) -> String {
        let path = location[location.range(of: "/fhir/")!.lowerBound...]
        return String(path)
    }

    static func withoutIDAndMeta(_ value: JSONValue) -> JSONValue {
        guard var object = value.objectValue else { return value }
        object["id"] = nil
        object["meta"] = nil
        return .object(object)
    }
}
