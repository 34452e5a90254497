import ArgumentParser
import FHIRModels
import Foundation

/// `medrec validate`: checks files before a bulk import, and prints an OperationOutcome
/// for each resource that would be refused.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Validate FHIR R4 resources in JSON, XML or NDJSON files (one resource per line)."
    )

    @Argument(help: "Files to validate (.json, .xml, .ndjson).")
    var files: [String]

    @Flag(help: "Print nothing for valid resources and no summary.")
    var quiet = false

    func run() throws {
        let validator = FHIRValidator()
        var checked = 0
        var invalid = 0
        for path in files {
            try FHIRFileReader.forEachResource(at: path) { source, location in
                checked += 1
                let issues: [OutcomeIssue]
                switch source {
                case .success(let resource): issues = validator.validate(resource)
                case .failure(let error): issues = [error.issue]
                }
                guard issues.hasErrors else { return }
                invalid += 1
                let outcome = FHIRJSON.string(issues.operationOutcome())
                print("\(path)\(location.map { ":\($0)" } ?? ""): \(outcome)")
            }
        }
        if !quiet {
            FileHandle.standardError.write(Data("\(checked) resources checked, \(invalid) invalid\n".utf8))
        }
        if invalid > 0 { throw ExitCode(1) }
    }
}
