/// Builds one FHIR JSON object for a generated `jsonObject()`, in the order members are
/// written (the specification's order). Absent and empty elements are left out, as FHIR
/// JSON requires.
struct FHIRJSONObjectWriter {
    private(set) var object: JSONObject

    init(capacity: Int) {
        object = JSONObject(reservingCapacity: capacity)
    }

    init(resourceType: String, capacity: Int) {
        object = JSONObject(reservingCapacity: capacity + 1)
        object.append(key: "resourceType", value: .string(resourceType))
    }

    mutating func string(_ key: String, _ value: String?) {
        guard let value else { return }
        object.append(key: key, value: .string(value))
    }

    mutating func primitive<Value>(_ key: String, _ primitive: FHIRPrimitive<Value>?) {
        guard let primitive else { return }
        if let value = primitive.value {
            object.append(key: key, value: value.fhirJSON)
        }
        if let element = primitive.elementJSON {
            object.append(key: "_" + key, value: element)
        }
    }

    mutating func primitives<Value>(_ key: String, _ primitives: [FHIRPrimitive<Value>]) {
        guard !primitives.isEmpty else { return }
        var hasValue = false
        var hasElement = false
        for primitive in primitives {
            if primitive.value != nil { hasValue = true }
            if primitive.hasElementContent { hasElement = true }
        }
        if hasValue {
            var values: [JSONValue] = []
            values.reserveCapacity(primitives.count)
            for primitive in primitives {
                values.append(primitive.value?.fhirJSON ?? .null)
            }
            object.append(key: key, value: .array(values))
        }
        if hasElement {
            var elements: [JSONValue] = []
            elements.reserveCapacity(primitives.count)
            for primitive in primitives {
                elements.append(primitive.elementJSON ?? .null)
            }
            object.append(key: "_" + key, value: .array(elements))
        }
    }

    mutating func element<T: FHIRJSONObjectCodable>(_ key: String, _ element: T?) {
        guard let element else { return }
        object.append(key: key, value: .object(element.jsonObject()))
    }

    mutating func elements<T: FHIRJSONObjectCodable>(_ key: String, _ elements: [T]) {
        guard !elements.isEmpty else { return }
        var values: [JSONValue] = []
        values.reserveCapacity(elements.count)
        for element in elements {
            values.append(.object(element.jsonObject()))
        }
        object.append(key: key, value: .array(values))
    }
}
