import FHIRModels
import Foundation
import Mapping

// What the platform mapping costs per resource: `Model(fhir:)` and `fhir(mergingInto:context:)`
// (an unchanged write and a one-field change), against parsing the resource's JSON text, which
// every platform read already pays. Over every resource of a mapped type in the Synthea bundles
// (Composition: the HL7 example document, Synthea has none), references resolved to `Type/id`
// as a transaction stores them. Issue 14 used this benchmark, with typed-model columns since
// removed, to decide against typed models in Mapping (docs/architecture.md, "Typed models: decision").
// Usage: MappingBenchmark [FIXTURES_DIR] [--rounds N]

let arguments = CommandLine.arguments.dropFirst()
var fixturesPath = "../shared/fixtures"
var rounds = 7
var iterator = arguments.makeIterator()
while let argument = iterator.next() {
    if argument == "--rounds", let value = iterator.next(), let parsed = Int(value) {
        rounds = parsed
    } else {
        fixturesPath = argument
    }
}
let fixtures = URL(fileURLWithPath: fixturesPath)


var byType: [String: [JSONValue]] = [:]
let syntheaDirectory = fixtures.appendingPathComponent("synthea")
let syntheaFiles = try FileManager.default.contentsOfDirectory(atPath: syntheaDirectory.path).filter { $0.hasSuffix(".json") }.sorted()
for name in syntheaFiles {
    let bundle = try FHIRJSON.parse(Data(contentsOf: syntheaDirectory.appendingPathComponent(name)))
    let entries = bundle["entry"]?.arrayValue ?? []
    var targets: [String: String] = [:]
    for entry in entries {
        if let fullURL = entry["fullUrl"]?.stringValue, let type = entry["resource"]?["resourceType"]?.stringValue,
           let id = entry["resource"]?["id"]?.stringValue {
            targets[fullURL] = "\(type)/\(id)"
        }
    }
    for entry in entries {
        guard let resource = entry["resource"], let type = resource["resourceType"]?.stringValue else { continue }
        byType[type, default: []].append(resource.replacingReferences(targets))
    }
}
let document = try FHIRJSON.parse(Data(contentsOf: fixtures.appendingPathComponent("hl7-examples/json/document-example-dischargesummary.json")))
byType["Composition"] = (document["entry"]?.arrayValue ?? []).compactMap(\.["resource"]).filter { $0["resourceType"]?.stringValue == "Composition" }

let context = MappingContext(authorPractitionerID: "author-1", now: Date(timeIntervalSince1970: 1_795_000_000))

/// Best of `rounds` passes (each repeated until it lasts ≥ 20 ms), in µs per resource.
@MainActor func microseconds(_ count: Int, _ pass: () -> Int) -> Double {
    var repetitions = 1
    var best = Double.infinity
    var sink = 0
    while true {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<repetitions { sink &+= pass() }
        let elapsed = DispatchTime.now().uptimeNanoseconds - start
        if elapsed >= 20_000_000 { break }
        repetitions *= 2
    }
    for _ in 0..<rounds {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<repetitions { sink &+= pass() }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        best = min(best, seconds / Double(repetitions))
    }
    if sink == 42 { print("") }  // keeps the work observable
    return best * 1e6 / Double(max(count, 1))
}

/// One row: the platform model `M` over every fixture resource of its FHIR type.
@MainActor func row<M: PlatformModel>(_ model: M.Type, change: (inout M) -> Void) {
    let resources = byType[M.resourceType] ?? []
    guard !resources.isEmpty else {
        print("| \(M.resourceType) | 0 | — | — | — | — | — |")
        return
    }
    let models = resources.map { M(fhir: $0) }
    let changed = models.map { var copy = $0; change(&copy); return copy }
    let read = microseconds(resources.count) {
        var n = 0
        for resource in resources { n &+= M(fhir: resource).id?.utf8.count ?? 0 }
        return n
    }
    let mergeSame = microseconds(resources.count) {
        var n = 0
        for (model, resource) in zip(models, resources) {
            n &+= model.fhir(mergingInto: resource, context: context).objectValue?.count ?? 0
        }
        return n
    }
    let mergeChanged = microseconds(resources.count) {
        var n = 0
        for (model, resource) in zip(changed, resources) {
            n &+= model.fhir(mergingInto: resource, context: context).objectValue?.count ?? 0
        }
        return n
    }
    let bytes = resources.map { FHIRJSON.serialize($0) }
    let parse = microseconds(bytes.count) {
        var n = 0
        for data in bytes { n &+= ((try? FHIRJSON.parse(data)) != nil) ? 1 : 0 }
        return n
    }
    func f(_ value: Double) -> String { String(format: "%.2f", value) }
    print("| \(M.resourceType) | \(resources.count) | \(f(read)) | \(f(mergeSame)) | \(f(mergeChanged)) | \(f(parse)) | \(f((read + mergeChanged) / parse))× |")
}

print("Platform mapping, µs per resource, best of \(rounds) (release build)")
print("")
print("| type | resources | (a1) init(fhir:) | (a2) merge unchanged | (a3) merge one change | (c) FHIRJSON.parse of the resource | (a1+a3) / (c) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
row(PatientDTO.self) { $0.lastName = ($0.lastName ?? "") + "x" }
row(DoctorDTO.self) { $0.lastName = ($0.lastName ?? "") + "x" }
row(AppointmentDTO.self) { $0.reasonForVisit = "changed" }
row(MedicalRecordDTO.self) { $0.diagnosis = "changed" }
row(PrescriptionDTO.self) { $0.dosage = "changed" }
row(BillingDTO.self) { $0.status = $0.status == .paid ? .pending : .paid }
