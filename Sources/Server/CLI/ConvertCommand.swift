import ArgumentParser
import FHIRModels
import Foundation

/// `medrec convert`: FHIR JSON ⇄ XML for people and bulk jobs. NDJSON input is streamed,
/// one output document per line.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert FHIR R4 resources between JSON and XML, writing to standard output.",
        discussion: """
            NDJSON input is streamed line by line: with --to json the output is NDJSON again; with --to xml \
            it is one XML Bundle of type collection, written entry by entry.
            """
    )

    enum Target: String, ExpressibleByArgument {
        case json, xml
    }

    @Option(help: "Output format: json or xml.")
    var to: Target

    @Flag(help: "Indent the output (not for NDJSON input).")
    var pretty = false

    @Argument(help: "The file to convert (.json, .xml or .ndjson).")
    var file: String

    func run() throws {
        let output = FileHandle.standardOutput
        let streaming = file.lowercased().hasSuffix(".ndjson") || file.lowercased().hasSuffix(".jsonl")
        var failures = 0
        if streaming, to == .xml {
            output.write(Data(#"<Bundle xmlns="http://hl7.org/fhir"><type value="collection"/>"#.utf8))
        }
        try FHIRFileReader.forEachResource(at: file) { source, line in
            switch source {
            case .failure(let error):
                failures += 1
                let location = line.map { "\(file):\($0)" } ?? file
                FileHandle.standardError.write(Data("\(location): \(error)\n".utf8))
            case .success(let resource):
                var bytes: [UInt8]
                switch to {
                case .json:
                    bytes = FHIRJSON.serialize(resource, pretty: pretty && !streaming)
                case .xml:
                    do {
                        bytes = try FHIRXMLWriter.document(for: resource, pretty: pretty && !streaming)
                        if streaming {
                            bytes = Self.withoutXMLDeclaration(bytes)
                            bytes = Array("<entry><resource>".utf8) + bytes + Array("</resource></entry>".utf8)
                        }
                    } catch {
                        failures += 1
                        let location = line.map { "\(file):\($0)" } ?? file
                        FileHandle.standardError.write(Data("\(location): \(error)\n".utf8))
                        return
                    }
                }
                bytes.append(0x0A)
                output.write(Data(bytes))
            }
        }
        if streaming, to == .xml {
            output.write(Data("</Bundle>\n".utf8))
        }
        if failures > 0 { throw ExitCode(1) }
    }

    /// Drops a leading `<?xml …?>` so a document can be nested inside a Bundle entry.
    static func withoutXMLDeclaration(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.starts(with: Array("<?xml".utf8)),
              let end = bytes.firstIndex(of: UInt8(ascii: ">")) else { return bytes }
        var rest = bytes[(end + 1)...]
        while let first = rest.first, first == 0x0A || first == 0x0D || first == 0x20 { rest = rest.dropFirst() }
        return Array(rest)
    }
}
