import FHIRModels
import Foundation

// Measures FHIR JSON <-> XML conversion throughput on one core over the Synthea bundles.
// Run: swift build -c release --product XMLThroughput && .build/release/XMLThroughput ../shared/fixtures/synthea
let directory = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "../shared/fixtures/synthea"
let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.sorted()
let jsonFiles = try names.map { Array(try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent($0))) }
let jsonBytes = jsonFiles.reduce(0) { $0 + $1.count }
let values = try jsonFiles.map { try FHIRJSON.parse($0) }
let xmlFiles = try values.map { try FHIRXMLWriter.document(for: $0) }
let xmlBytes = xmlFiles.reduce(0) { $0 + $1.count }

func measure(_ label: String, bytes: Int, rounds: Int = 5, _ body: () throws -> Int) rethrows {
    var best = Double.infinity
    var sink = 0
    for _ in 0..<rounds {
        let start = DispatchTime.now().uptimeNanoseconds
        sink &+= try body()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        best = min(best, seconds)
    }
    print(String(format: "%-44@ %7.1f MB/s  (%.3f s for %.1f MB, best of %d) %d", label as NSString, Double(bytes) / 1e6 / best, best, Double(bytes) / 1e6, rounds, sink & 1))
}

print("corpus: \(names.count) bundles, JSON \(jsonBytes) bytes, XML \(xmlBytes) bytes")
try measure("JSON value -> XML bytes (per JSON MB)", bytes: jsonBytes) { try values.reduce(0) { $0 + (try FHIRXMLWriter.document(for: $1)).count } }
try measure("JSON bytes -> XML bytes, incl. JSON parse", bytes: jsonBytes) { try jsonFiles.reduce(0) { $0 + (try FHIRXMLWriter.document(for: try FHIRJSON.parse($1))).count } }
try measure("XML bytes -> JSON value (per XML MB)", bytes: xmlBytes) { try xmlFiles.reduce(0) { $0 + ((try FHIRXMLReader.resource(from: $1)).objectValue?.count ?? 0) } }
try measure("XML bytes -> JSON bytes, incl. serialize", bytes: xmlBytes) { try xmlFiles.reduce(0) { $0 + FHIRJSON.serialize(try FHIRXMLReader.resource(from: $1)).count } }
try measure("XML parse only (FHIRXMLDocument)", bytes: xmlBytes) { try xmlFiles.reduce(0) { $0 + (try FHIRXMLDocument(parsing: $1)).nodes.count } }
try measure("JSON parse only (reference)", bytes: jsonBytes) { try jsonFiles.reduce(0) { $0 + ((try FHIRJSON.parse($1)).objectValue?.count ?? 0) } }
