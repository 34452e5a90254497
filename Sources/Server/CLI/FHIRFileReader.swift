import ArgumentParser
import FHIRModels
import Foundation

/// Walks the resources in a file, streaming NDJSON line by line.
enum FHIRFileReader {
    /// Calls `body` for each resource with its parse result and, for NDJSON, its 1-based line number.
    static func forEachResource(
        at path: String,
        _ body: (Result<JSONValue, FHIRFormatError>, Int?) throws -> Void
    ) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ValidationError("cannot open \(path)")
        }
        defer { try? handle.close() }
        let lowerPath = path.lowercased()
        if lowerPath.hasSuffix(".ndjson") || lowerPath.hasSuffix(".jsonl") {
            var reader = LineReader(handle: handle)
            var lineNumber = 0
            while let line = try reader.nextLine() {
                lineNumber += 1
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                try body(Result { () throws(FHIRFormatError) in try FHIRFileFormat.ndjson.parseResource(line) }, lineNumber)
            }
            return
        }
        let bytes = [UInt8](try handle.readToEnd() ?? Data())
        let format = FHIRFileFormat.detect(path: path, firstBytes: bytes.prefix(64))
        try body(Result { () throws(FHIRFormatError) in try format.parseResource(bytes) }, nil)
    }
}
