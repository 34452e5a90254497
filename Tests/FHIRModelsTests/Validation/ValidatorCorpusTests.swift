import FixtureSupport
import Foundation
import Testing
@testable import FHIRModels

/// Every official HL7 example and every Synthea resource is structurally valid R4, so the
/// validator must report no errors on any of them.
@Suite("Structural validator on real corpora")
struct ValidatorCorpusTests {
    private let validator = FHIRValidator()

    private func errors(in url: URL) throws -> [String] {
        let resource = try FHIRJSON.parse(Data(contentsOf: url))
        return validator.validate(resource).filter { $0.severity == .error }.map { "\(url.lastPathComponent): \($0)" }
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func officialExamplesAreValid() throws {
        let files = Fixtures.files(in: "hl7-examples/json", withExtension: "json")
        #expect(files.count == Fixtures.expected(full: 161, vendored: 32))
        var failures: [String] = []
        for url in files { failures += try errors(in: url) }
        #expect(failures == [])
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func syntheaBundlesAreValid() throws {
        let files = Fixtures.files(in: "synthea", withExtension: "json")
        #expect(files.count == Fixtures.expected(full: 34, vendored: 8))
        let bundles = try files.map { try FHIRJSON.parse(Data(contentsOf: $0)) }
        func cpuTime() -> Duration {
            var spec = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
            return .seconds(spec.tv_sec) + .nanoseconds(spec.tv_nsec)
        }
        let start = cpuTime()
        let issues = bundles.map { validator.validate($0) }
        let elapsed = cpuTime() - start
        // Measured, not asserted: debug builds are an order of magnitude slower than release.
        let bytes = files.compactMap { try? $0.resourceValues(forKeys: [.fileSizeKey]).fileSize }.reduce(0, +)
        print("validated \(files.count) Synthea bundles (\(String(format: "%.1f", Double(bytes) / 1e6)) MB) in \(elapsed) CPU")
        var failures: [String] = []
        for (url, found) in zip(files, issues) {
            failures += found.filter { $0.severity == .error }.map { "\(url.lastPathComponent): \($0)" }
        }
        #expect(failures == [])
    }

    @Test(.enabled(if: Fixtures.available, Fixtures.absentReason))
    func bulkExportLinesAreValid() throws {
        let files = Fixtures.files(in: "ndjson", withExtension: "ndjson")
        #expect(files.count == Fixtures.expected(full: 12, vendored: 10))
        var failures: [String] = []
        var lines = 0
        for url in files {
            let bytes = try [UInt8](Data(contentsOf: url))
            for (number, line) in bytes.split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
                let resource = try FHIRJSON.parse(Array(line))
                failures += validator.validate(resource).filter { $0.severity == .error }
                    .map { "\(url.lastPathComponent):\(number + 1): \($0)" }
                lines += 1
            }
        }
        #expect(lines == Fixtures.expected(full: 5945, vendored: 2144))
        #expect(failures == [])
    }
}
