import Foundation

/// Strict JSON for FHIR: the parser refuses everything RFC 8259 allows but FHIR or
/// safety forbid (duplicate keys, a BOM, `null` outside arrays, deep nesting,
/// invalid UTF-8, lone surrogates, trailing content), and the writer emits
/// numbers in their original lexical form.
public enum FHIRJSON {
    /// Limits that bound the work and memory one document can cost.
    public struct Limits: Sendable, Hashable {
        /// Deepest nesting of arrays and objects. FHIR resources rarely pass 20;
        /// 100 leaves room for deeply nested Questionnaire items.
        public var maxDepth: Int
        /// Largest document in bytes, or `nil` for no limit (the HTTP layer sets its own).
        public var maxBytes: Int?
        /// Accept `null` as a member value, as plain JSON does (the platform API reads it as
        /// absent). FHIR JSON refuses it, so the default is false.
        public var allowsNullMembers: Bool

        public init(maxDepth: Int = 100, maxBytes: Int? = nil, allowsNullMembers: Bool = false) {
            self.maxDepth = maxDepth
            self.maxBytes = maxBytes
            self.allowsNullMembers = allowsNullMembers
        }

        public static let `default` = Limits()
    }

    public static func parse(_ bytes: [UInt8], limits: Limits = .default) throws(FHIRFormatError) -> JSONValue {
        if let maxBytes = limits.maxBytes, bytes.count > maxBytes {
            throw FHIRFormatError(.tooLarge, "JSON document is larger than \(maxBytes) bytes")
        }
        let result: Result<JSONValue, FHIRFormatError> = bytes.withUnsafeBufferPointer { buffer in
            var parser = JSONByteParser(buffer: buffer, maxDepth: limits.maxDepth, allowsNullMembers: limits.allowsNullMembers)
            do throws(FHIRFormatError) {
                return .success(try parser.parseDocument())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    public static func parse(_ data: Data, limits: Limits = .default) throws(FHIRFormatError) -> JSONValue {
        try parse([UInt8](data), limits: limits)
    }

    public static func parse(_ string: String, limits: Limits = .default) throws(FHIRFormatError) -> JSONValue {
        try parse(Array(string.utf8), limits: limits)
    }

    public static func serialize(_ value: JSONValue, pretty: Bool = false) -> [UInt8] {
        var writer = JSONByteWriter(pretty: pretty)
        writer.write(value, indent: 0)
        return writer.output
    }

    public static func string(_ value: JSONValue, pretty: Bool = false) -> String {
        String(decoding: serialize(value, pretty: pretty), as: UTF8.self)
    }
}
