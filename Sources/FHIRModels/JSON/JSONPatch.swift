/// RFC 6902 JSON Patch over `JSONValue`, for FHIR's PATCH interaction.
public struct JSONPatch: Sendable {
    public enum Operation: Sendable {
        case add(path: [String], value: JSONValue)
        case remove(path: [String])
        case replace(path: [String], value: JSONValue)
        case move(from: [String], path: [String])
        case copy(from: [String], path: [String])
        case test(path: [String], value: JSONValue)
    }

    public struct PatchError: Error, Sendable, CustomStringConvertible {
        public let message: String
        /// The index of the failing operation in the patch document.
        public let operationIndex: Int?
        public var description: String {
            operationIndex.map { "patch operation \($0): \(message)" } ?? message
        }
    }

    public let operations: [Operation]

    /// Reads a patch document: an array of operation objects.
    public init(document: JSONValue) throws(PatchError) {
        guard let array = document.arrayValue else {
            throw PatchError(message: "a JSON Patch document must be an array of operations", operationIndex: nil)
        }
        var operations: [Operation] = []
        for (index, item) in array.enumerated() {
            guard let object = item.objectValue, let op = object["op"]?.stringValue else {
                throw PatchError(message: "an operation must be an object with an \"op\" member", operationIndex: index)
            }
            func pointer(_ name: String) throws(PatchError) -> [String] {
                guard let text = object[name]?.stringValue else {
                    throw PatchError(message: "\"\(op)\" needs a \"\(name)\" member", operationIndex: index)
                }
                guard let tokens = Self.parsePointer(text) else {
                    throw PatchError(message: "\"\(name)\" is not a valid JSON Pointer", operationIndex: index)
                }
                return tokens
            }
            func value() throws(PatchError) -> JSONValue {
                guard let value = object["value"] else {
                    throw PatchError(message: "\"\(op)\" needs a \"value\" member", operationIndex: index)
                }
                return value
            }
            switch op {
            case "add": operations.append(.add(path: try pointer("path"), value: try value()))
            case "remove": operations.append(.remove(path: try pointer("path")))
            case "replace": operations.append(.replace(path: try pointer("path"), value: try value()))
            case "move": operations.append(.move(from: try pointer("from"), path: try pointer("path")))
            case "copy": operations.append(.copy(from: try pointer("from"), path: try pointer("path")))
            case "test": operations.append(.test(path: try pointer("path"), value: try value()))
            default: throw PatchError(message: "unknown operation", operationIndex: index)
            }
        }
        self.operations = operations
    }

    /// RFC 6901: "" is the whole document; "/a~1b/~0c" is ["a/b", "~c"].
    static func parsePointer(_ text: String) -> [String]? {
        if text.isEmpty { return [] }
        guard text.hasPrefix("/") else { return nil }
        var tokens: [String] = []
        for raw in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            var token = ""
            var iterator = raw.makeIterator()
            while let character = iterator.next() {
                if character == "~" {
                    switch iterator.next() {
                    case "0": token.append("~")
                    case "1": token.append("/")
                    default: return nil
                    }
                } else {
                    token.append(character)
                }
            }
            tokens.append(token)
        }
        return tokens
    }

    /// Applies all operations, atomically: on any failure the input is untouched.
    public func apply(to document: JSONValue) throws(PatchError) -> JSONValue {
        var result = document
        for (index, operation) in operations.enumerated() {
            do throws(PatchError) {
                switch operation {
                case .add(let path, let value):
                    try Self.add(value, at: path[...], in: &result)
                case .remove(let path):
                    _ = try Self.remove(at: path[...], in: &result)
                case .replace(let path, let value):
                    _ = try Self.remove(at: path[...], in: &result)
                    try Self.add(value, at: path[...], in: &result)
                case .move(let from, let path):
                    if path.count > from.count, Array(path.prefix(from.count)) == from {
                        throw PatchError(message: "cannot move a value into itself", operationIndex: nil)
                    }
                    let value = try Self.remove(at: from[...], in: &result)
                    try Self.add(value, at: path[...], in: &result)
                case .copy(let from, let path):
                    let value = try Self.get(from[...], in: result)
                    try Self.add(value, at: path[...], in: &result)
                case .test(let path, let value):
                    let actual = try Self.get(path[...], in: result)
                    guard Self.jsonEqual(actual, value) else {
                        throw PatchError(message: "test failed", operationIndex: nil)
                    }
                }
            } catch {
                throw PatchError(message: error.message, operationIndex: index)
            }
        }
        return result
    }

    /// JSON equality: objects ignore member order, numbers compare by value.
    static func jsonEqual(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)):
            if x == y { return true }
            guard let dx = Double(x), let dy = Double(y) else { return false }
            return dx == dy
        case (.object(let x), .object(let y)):
            guard x.count == y.count else { return false }
            for (key, value) in x {
                guard let other = y[key], jsonEqual(value, other) else { return false }
            }
            return true
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { jsonEqual($0, $1) }
        default:
            return a == b
        }
    }

    private static func arrayIndex(_ token: String, count: Int, allowEnd: Bool) throws(PatchError) -> Int {
        if allowEnd, token == "-" { return count }
        guard !token.isEmpty, token.allSatisfy(\.isASCII), token.allSatisfy(\.isNumber),
              token == "0" || !token.hasPrefix("0"), let index = Int(token) else {
            throw PatchError(message: "an array index in the path is not valid", operationIndex: nil)
        }
        guard index < count || (allowEnd && index == count) else {
            throw PatchError(message: "an array index in the path is out of range", operationIndex: nil)
        }
        return index
    }

    static func get(_ path: ArraySlice<String>, in document: JSONValue) throws(PatchError) -> JSONValue {
        guard let token = path.first else { return document }
        switch document {
        case .object(let object):
            guard let child = object[token] else { throw PatchError(message: "the path does not exist", operationIndex: nil) }
            return try get(path.dropFirst(), in: child)
        case .array(let array):
            let index = try arrayIndex(token, count: array.count, allowEnd: false)
            return try get(path.dropFirst(), in: array[index])
        default:
            throw PatchError(message: "the path does not exist", operationIndex: nil)
        }
    }

    static func add(_ value: JSONValue, at path: ArraySlice<String>, in document: inout JSONValue) throws(PatchError) {
        guard let token = path.first else {
            document = value
            return
        }
        let rest = path.dropFirst()
        switch document {
        case .object(var object):
            if rest.isEmpty {
                object[token] = value
            } else {
                guard var child = object[token] else { throw PatchError(message: "the path does not exist", operationIndex: nil) }
                try add(value, at: rest, in: &child)
                object[token] = child
            }
            document = .object(object)
        case .array(var array):
            if rest.isEmpty {
                let index = try arrayIndex(token, count: array.count, allowEnd: true)
                array.insert(value, at: index)
            } else {
                let index = try arrayIndex(token, count: array.count, allowEnd: false)
                try add(value, at: rest, in: &array[index])
            }
            document = .array(array)
        default:
            throw PatchError(message: "the path does not exist", operationIndex: nil)
        }
    }

    static func remove(at path: ArraySlice<String>, in document: inout JSONValue) throws(PatchError) -> JSONValue {
        guard let token = path.first else {
            throw PatchError(message: "cannot remove the whole document", operationIndex: nil)
        }
        let rest = path.dropFirst()
        switch document {
        case .object(var object):
            guard var child = object[token] else { throw PatchError(message: "the path does not exist", operationIndex: nil) }
            let removed: JSONValue
            if rest.isEmpty {
                removed = child
                object[token] = nil
            } else {
                removed = try remove(at: rest, in: &child)
                object[token] = child
            }
            document = .object(object)
            return removed
        case .array(var array):
            let index = try arrayIndex(token, count: array.count, allowEnd: false)
            let removed: JSONValue
            if rest.isEmpty {
                removed = array.remove(at: index)
            } else {
                removed = try remove(at: rest, in: &array[index])
            }
            document = .array(array)
            return removed
        default:
            throw PatchError(message: "the path does not exist", operationIndex: nil)
        }
    }
}
