import FHIRModels
import Foundation
import Mapping
import Testing

/// The laws every platform model obeys, written once and checked per model.
enum MappingLaws {
    static let context = MappingContext(authorPractitionerID: "author-1", now: Date(timeIntervalSince1970: 1_795_000_000))

    /// A model (as `init(body:)` makes it) → new FHIR resource (valid) → stored → read back is the
    /// same model; and its JSON decodes back to it.
    static func roundTrip<M: PlatformModel>(_ model: M, expected: (M) -> M = { $0 }, sourceLocation: SourceLocation = #_sourceLocation) {
        let resource = model.fhir(mergingInto: nil, context: context)
        #expect(resource["resourceType"]?.stringValue == M.resourceType, sourceLocation: sourceLocation)
        #expect(resource["id"] == nil && resource["meta"] == nil, "the store sets id and meta", sourceLocation: sourceLocation)
        #expect(FHIRCheck.problems(resource) == [], sourceLocation: sourceLocation)
        var stored = model
        stored.id = "stored-1"
        #expect(M(fhir: FHIRCheck.stored(resource, id: "stored-1")) == expected(stored), sourceLocation: sourceLocation)
        if let body = model.json.objectValue {
            do {
                #expect(try M(body: body) == model, sourceLocation: sourceLocation)
            } catch {
                Issue.record("the JSON face does not decode: \(error.issues)", sourceLocation: sourceLocation)
            }
        }
    }

    /// Writing `update` over the stored resource of `original` reads back as `update`, valid,
    /// with the store's id and meta kept.
    static func update<M: PlatformModel>(_ original: M, to update: M, expected: (M) -> M = { $0 }, sourceLocation: SourceLocation = #_sourceLocation) {
        let stored = FHIRCheck.stored(original.fhir(mergingInto: nil, context: context), id: "stored-1")
        let updated = update.fhir(mergingInto: stored, context: context)
        #expect(FHIRCheck.problems(updated) == [], sourceLocation: sourceLocation)
        #expect(updated["id"] == stored["id"] && updated["meta"] == stored["meta"], sourceLocation: sourceLocation)
        var readBack = update
        readBack.id = "stored-1"
        #expect(M(fhir: updated) == expected(readBack), sourceLocation: sourceLocation)
    }

    /// Reading a foreign resource and writing the model straight back changes nothing.
    static func mergeKeepsEverything<M: PlatformModel>(_ type: M.Type, _ fixtures: [FixtureResource], sourceLocation: SourceLocation = #_sourceLocation) {
        for fixture in fixtures {
            let merged = M(fhir: fixture.resource).fhir(mergingInto: fixture.resource, context: context)
            #expect(
                merged.isEquivalent(to: fixture.resource),
                "\(fixture.source): \(FHIRCheck.differences(fixture.resource, merged))",
                sourceLocation: sourceLocation
            )
        }
    }

    /// Writing any model over a foreign resource reads back as that model, stays valid when the
    /// resource was, and keeps every top-level element outside `mapped` (and every extension of
    /// a foreign URL) as it was.
    static func writeOverForeign<M: PlatformModel>(
        _ model: M,
        _ fixture: FixtureResource,
        mapped: Set<String>,
        expected: (M) -> M = { $0 },
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let merged = model.fhir(mergingInto: fixture.resource, context: context)
        if FHIRCheck.problems(fixture.resource).isEmpty {
            #expect(FHIRCheck.problems(merged) == [], "\(fixture.source)", sourceLocation: sourceLocation)
        }
        var readBack = model
        readBack.id = fixture.resource["id"]?.stringValue
        #expect(M(fhir: merged) == expected(readBack), "\(fixture.source)", sourceLocation: sourceLocation)
        let original = fixture.resource.objectValue ?? JSONObject()
        for key in original.keys where !mapped.contains(key) && key != "extension" {
            #expect(merged[key] == original[key], "\(fixture.source): \(key) changed", sourceLocation: sourceLocation)
        }
        func foreignExtensions(_ resource: JSONValue) -> [JSONValue] {
            (resource["extension"]?.arrayValue ?? []).filter {
                !($0["url"]?.stringValue ?? "").hasPrefix(PlatformProfiles.base)
            }
        }
        #expect(foreignExtensions(merged) == foreignExtensions(fixture.resource), "\(fixture.source)", sourceLocation: sourceLocation)
    }

    /// Reading is total, and what a fixture maps to re-decodes as a body unless it lacks a
    /// required field or holds a value in a form the platform refuses: returns those issues.
    static func bodyIssues<M: PlatformModel>(_ type: M.Type, _ fixture: FixtureResource) -> [FieldIssue] {
        let model = M(fhir: fixture.resource)
        guard let body = model.json.objectValue else { return [FieldIssue(field: "", issue: "json is not an object")] }
        do {
            let decoded = try M(body: body)
            return withoutReadOnly(decoded.json) == withoutReadOnly(model.json) ? [] : [FieldIssue(field: "", issue: "decodes to another model")]
        } catch {
            return error.issues
        }
    }

    /// The members a body may not set (`id`, and the record dates).
    private static func withoutReadOnly(_ json: JSONValue) -> JSONValue {
        var object = json.objectValue ?? JSONObject()
        for key in ["id", "createdAt", "updatedAt"] { object[key] = nil }
        return .object(object)
    }
}

extension MappingLaws {
    /// Every fixture maps, and its JSON face decodes as a body except for exactly the required
    /// fields the FHIR data lacks (nothing is invented to fill them) and the values listed in
    /// `refused` by fixture (a form FHIR allows and the platform does not, such as a date-only
    /// start). Returns how many decoded.
    @discardableResult
    static func fixturesDecode<M: PlatformModel>(
        _ type: M.Type,
        _ fixtures: [FixtureResource],
        required: [String],
        refused: [String: [FieldIssue]] = [:],
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Int {
        var decoded = 0
        for fixture in fixtures {
            let json = M(fhir: fixture.resource).json
            let missing = required.filter { json[$0] == nil }.map { FieldIssue(field: $0, issue: "is required") }
            let expected = (missing + (refused[fixture.source] ?? [])).map(\.description).sorted()
            let issues = bodyIssues(M.self, fixture)
            #expect(issues.map(\.description).sorted() == expected, "\(fixture.source)", sourceLocation: sourceLocation)
            if issues.isEmpty { decoded += 1 }
        }
        return decoded
    }

    /// One platform change over a foreign resource alters exactly `paths` (as
    /// `FHIRCheck.differences` names them) and nothing else.
    static func changeTouchesOnly<M: PlatformModel>(
        _ fixture: FixtureResource,
        _ change: (inout M) -> Void,
        paths: Set<String>,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var model = M(fhir: fixture.resource)
        change(&model)
        let merged = model.fhir(mergingInto: fixture.resource, context: context)
        #expect(Set(FHIRCheck.differences(fixture.resource, merged)) == paths, "\(fixture.source)", sourceLocation: sourceLocation)
        #expect(M(fhir: merged) == model, "\(fixture.source)", sourceLocation: sourceLocation)
    }
}
