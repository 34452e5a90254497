import FHIRModels

/// The on-disk formats the command line reads and writes.
enum FHIRFileFormat: String, Sendable {
    case json, xml, ndjson

    /// Decides by extension, and for other names by the first non-blank byte.
    static func detect(path: String, firstBytes: some Collection<UInt8>) -> FHIRFileFormat {
        let lower = path.lowercased()
        if lower.hasSuffix(".ndjson") || lower.hasSuffix(".jsonl") { return .ndjson }
        if lower.hasSuffix(".xml") { return .xml }
        if lower.hasSuffix(".json") { return .json }
        let first = firstBytes.first { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }
        return first == UInt8(ascii: "<") ? .xml : .json
    }

    /// Parses one resource in this format (NDJSON lines are JSON).
    func parseResource(_ bytes: [UInt8]) throws(FHIRFormatError) -> JSONValue {
        switch self {
        case .json, .ndjson:
            let value = try FHIRJSON.parse(bytes)
            guard value.objectValue != nil else {
                throw FHIRFormatError(.wrongType, "a FHIR resource must be a JSON object")
            }
            return value
        case .xml:
            return try FHIRXMLReader.resource(from: bytes)
        }
    }
}
