/// Reads the members of one FHIR JSON object for a generated `init(jsonObject:)`.
///
/// Each lookup marks its member as consumed; `finish()` refuses any member left over, which
/// is how unknown elements (and `_x` members without a primitive `x`) are rejected. Errors
/// thrown while reading a member are prefixed with the member's name (and index).
struct FHIRJSONObjectReader {
    private let object: JSONObject
    private var consumed: [Bool]

    init(_ object: JSONObject) {
        self.object = object
        consumed = Array(repeating: false, count: object.count)
    }

    /// Takes a member out of the object, if present.
    mutating func take(_ key: String) -> JSONValue? {
        let keys = object.keys
        for index in keys.indices where !consumed[index] && keys[index] == key {
            consumed[index] = true
            return object.values[index]
        }
        return nil
    }

    /// Refuses the first member nobody asked for.
    func finish() throws(FHIRFormatError) {
        if let index = consumed.firstIndex(of: false) {
            throw FHIRFormatError(.unknownElement, "Unknown element", expression: object.keys[index])
        }
    }

    /// Checks and consumes `resourceType` for a typed resource.
    mutating func resourceType(_ expected: String) throws(FHIRFormatError) {
        guard let value = take("resourceType") else {
            throw FHIRFormatError(.unknownResourceType, "Missing resourceType", expression: "resourceType")
        }
        guard case .string(let name) = value else {
            throw FHIRFormatError(.wrongType, "Expected a JSON string", expression: "resourceType")
        }
        guard name == expected else {
            throw FHIRFormatError(.unknownResourceType, "Expected resourceType \(expected)", expression: "resourceType")
        }
    }

    // MARK: Plain strings (Element.id, Resource.id, Extension.url)

    mutating func string(_ key: String) throws(FHIRFormatError) -> String? {
        guard let value = take(key) else { return nil }
        do throws(FHIRFormatError) {
            return try Self.singleValue(value, as: String.self)
        } catch {
            throw error.within(key)
        }
    }

    mutating func requiredString(_ key: String) throws(FHIRFormatError) -> String {
        guard let string = try string(key) else { throw .missing(key) }
        return string
    }

    // MARK: Primitives

    mutating func primitive<Value>(_ key: String) throws(FHIRFormatError) -> FHIRPrimitive<Value>? {
        let value = take(key)
        let element = take("_" + key)
        if value == nil && element == nil { return nil }
        do throws(FHIRFormatError) {
            return try FHIRPrimitive<Value>(json: value, elementJSON: element)
        } catch {
            throw error.within(key)
        }
    }

    mutating func requiredPrimitive<Value>(_ key: String) throws(FHIRFormatError) -> FHIRPrimitive<Value> {
        guard let primitive: FHIRPrimitive<Value> = try primitive(key) else { throw .missing(key) }
        return primitive
    }

    /// A repeating primitive: `"x": [v, null]` and `"_x": [null, {...}]`, aligned by index.
    mutating func primitives<Value>(_ key: String) throws(FHIRFormatError) -> [FHIRPrimitive<Value>] {
        let values = try Self.array(take(key), key: key)
        let elements = try Self.array(take("_" + key), key: "_" + key)
        guard values != nil || elements != nil else { return [] }
        if let values, let elements, values.count != elements.count {
            throw FHIRFormatError(.wrongType, "The value and extension arrays differ in length", expression: key)
        }
        let count = values?.count ?? elements?.count ?? 0
        var result: [FHIRPrimitive<Value>] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            var value = values?[index]
            var element = elements?[index]
            if value?.isNull == true { value = nil }
            if element?.isNull == true { element = nil }
            do throws(FHIRFormatError) {
                guard value != nil || element != nil else {
                    throw FHIRFormatError(.forbiddenNull, "Both the value and its extensions are null")
                }
                result.append(try FHIRPrimitive<Value>(json: value, elementJSON: element))
            } catch {
                throw error.within("\(key)[\(index)]")
            }
        }
        return result
    }

    // MARK: Complex elements and resources

    mutating func element<T: FHIRJSONObjectCodable>(_ key: String) throws(FHIRFormatError) -> T? {
        guard let value = take(key) else { return nil }
        do throws(FHIRFormatError) {
            return try T(jsonObject: Self.singleObject(value))
        } catch {
            throw error.within(key)
        }
    }

    mutating func requiredElement<T: FHIRJSONObjectCodable>(_ key: String) throws(FHIRFormatError) -> T {
        guard let element: T = try element(key) else { throw .missing(key) }
        return element
    }

    mutating func elements<T: FHIRJSONObjectCodable>(_ key: String) throws(FHIRFormatError) -> [T] {
        guard let array = try Self.array(take(key), key: key) else { return [] }
        var result: [T] = []
        result.reserveCapacity(array.count)
        for (index, value) in array.enumerated() {
            do throws(FHIRFormatError) {
                result.append(try T(jsonObject: Self.singleObject(value)))
            } catch {
                throw error.within("\(key)[\(index)]")
            }
        }
        return result
    }

    // MARK: Choice elements

    /// The members that may belong to the choice element `name` (`value` -> `valueString`,
    /// `_valueString`), named without the underscore, each once, in document order.
    /// The generated decoder picks the ones it knows; the rest stay for `finish()` to refuse.
    func choiceKeys(_ name: String) -> [String] {
        var result: [String] = []
        let keys = object.keys
        for index in keys.indices where !consumed[index] {
            var key = keys[index]
            if key.hasPrefix("_") { key.removeFirst() }
            guard key.count > name.count, key.hasPrefix(name) else { continue }
            let next = key[key.index(key.startIndex, offsetBy: name.count)]
            guard next.isUppercase, !result.contains(key) else { continue }
            result.append(key)
        }
        return result
    }

    /// Keeps the single type given for a choice element; a second one is an error.
    static func setChoice<T>(_ result: inout T?, _ choice: T, name: String) throws(FHIRFormatError) {
        guard result == nil else {
            throw FHIRFormatError(.wrongType, "More than one type given for a choice element", expression: name + "[x]")
        }
        result = choice
    }

    static func required<T>(_ value: T?, _ name: String) throws(FHIRFormatError) -> T {
        guard let value else { throw .missing(name) }
        return value
    }

    // MARK: JSON kinds

    private static func singleValue<T: FHIRPrimitiveValue>(_ value: JSONValue, as type: T.Type) throws(FHIRFormatError) -> T {
        switch value {
        case .null: throw FHIRFormatError(.forbiddenNull, "A single value may not be null")
        case .array: throw FHIRFormatError(.wrongType, "Expected a single value, not an array")
        default: return try T(fhirJSON: value)
        }
    }

    private static func singleObject(_ value: JSONValue) throws(FHIRFormatError) -> JSONObject {
        switch value {
        case .object(let object): return object
        case .null: throw FHIRFormatError(.forbiddenNull, "Expected a JSON object, found null")
        case .array: throw FHIRFormatError(.wrongType, "Expected a single JSON object, not an array")
        default: throw FHIRFormatError(.wrongType, "Expected a JSON object")
        }
    }

    private static func array(_ value: JSONValue?, key: String) throws(FHIRFormatError) -> [JSONValue]? {
        guard let value else { return nil }
        guard case .array(let array) = value else {
            if case .null = value {
                throw FHIRFormatError(.forbiddenNull, "Expected a JSON array, found null", expression: key)
            }
            throw FHIRFormatError(.wrongType, "Expected a JSON array", expression: key)
        }
        guard !array.isEmpty else {
            throw FHIRFormatError(.wrongType, "Arrays may not be empty", expression: key)
        }
        return array
    }
}
