import FHIRModels
import Foundation

// Throughput of the FHIR codecs over a corpus of JSON files (the Synthea bundles by default),
// each figure also as a ratio to Foundation's JSONSerialization measured in the same run.
// Usage: FHIRCodecBenchmark [CORPUS_DIR] [--rounds N]

let arguments = CommandLine.arguments.dropFirst()
var corpusPath = "../shared/fixtures/synthea"
var rounds = 5
var iterator = arguments.makeIterator()
while let argument = iterator.next() {
    if argument == "--rounds", let value = iterator.next(), let parsed = Int(value) {
        rounds = parsed
    } else {
        corpusPath = argument
    }
}

let corpusURL = URL(fileURLWithPath: corpusPath)
let names = try FileManager.default.contentsOfDirectory(atPath: corpusURL.path).filter { $0.hasSuffix(".json") }.sorted()
let documents: [Data] = try names.map { try Data(contentsOf: corpusURL.appendingPathComponent($0)) }
let byteArrays = documents.map { [UInt8]($0) }
let jsonBytes = documents.reduce(0) { $0 + $1.count }
guard jsonBytes > 0 else {
    print("no JSON files in \(corpusPath)")
    exit(1)
}

// Prepare the XML corpus once (not timed), so XML→JSON reads real XML of the same resources.
let validator = FHIRValidator()
var xmlDocuments: [[UInt8]] = []
for bytes in byteArrays {
    let value = try FHIRJSON.parse(bytes)
    let issues = validator.validate(value)
    if issues.hasErrors {
        print("corpus file is not valid: \(issues.prefix(3))")
        exit(1)
    }
    xmlDocuments.append(try FHIRXMLWriter.document(for: value))
}
let xmlBytes = xmlDocuments.reduce(0) { $0 + $1.count }

/// Best of `rounds` wall-clock times for one pass over the corpus, as MB/s of `bytes`.
@MainActor func measure(_ label: String, bytes: Int, _ pass: () throws -> Int) rethrows -> Double {
    var best = Double.infinity
    var sink = 0
    for _ in 0..<rounds {
        let start = DispatchTime.now().uptimeNanoseconds
        sink &+= try pass()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        best = min(best, seconds)
    }
    let megabytesPerSecond = Double(bytes) / 1_000_000 / best
    if sink == 42 { print("") }  // keeps the work observable
    return megabytesPerSecond
}

let baseline = try measure("a", bytes: jsonBytes) {
    var count = 0
    for data in documents {
        let object = try JSONSerialization.jsonObject(with: data)
        if object is [String: Any] { count += 1 }
    }
    return count
}
let parseValidate = try measure("b", bytes: jsonBytes) {
    var count = 0
    for bytes in byteArrays {
        let value = try FHIRJSON.parse(bytes)
        count += validator.validate(value).count
    }
    return count
}
let jsonToXML = try measure("c", bytes: jsonBytes) {
    var count = 0
    for bytes in byteArrays {
        count += try FHIRXMLWriter.document(for: FHIRJSON.parse(bytes)).count
    }
    return count
}
let xmlToJSON = try measure("d", bytes: xmlBytes) {
    var count = 0
    for bytes in xmlDocuments {
        count += FHIRJSON.serialize(try FHIRXMLReader.resource(from: bytes)).count
    }
    return count
}

@MainActor func line(_ label: String, _ value: Double) -> String {
    label.padding(toLength: 46, withPad: " ", startingAt: 0) + String(format: "%8.1f MB/s   %5.2fx of (a)", value, value / baseline)
}
print("corpus: \(names.count) files, \(jsonBytes) bytes JSON, \(xmlBytes) bytes XML; best of \(rounds) rounds, one core")
print(line("(a) JSONSerialization parse (baseline)", baseline))
print(line("(b) FHIRJSON parse + structural validation", parseValidate))
print(line("(c) JSON -> XML (parse + write)", jsonToXML))
print(line("(d) XML -> JSON (parse + write; MB of XML)", xmlToJSON))
