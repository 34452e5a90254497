/// The internal coding contract of every generated type: from and to a JSON object.
/// Errors carry expressions relative to the object; callers prefix their own location.
protocol FHIRJSONObjectCodable {
    init(jsonObject: JSONObject) throws(FHIRFormatError)
    func jsonObject() -> JSONObject
}

extension FHIRJSONObjectCodable {
    /// The public entry: `json` must be an object; errors are located under `root`
    /// (the type name), e.g. `Patient.name[0].given`.
    static func decode(_ json: JSONValue, root: String) throws(FHIRFormatError) -> Self {
        do throws(FHIRFormatError) {
            guard case .object(let object) = json else {
                if case .null = json { throw FHIRFormatError(.forbiddenNull, "Expected a JSON object, found null") }
                throw FHIRFormatError(.wrongType, "Expected a JSON object")
            }
            return try Self(jsonObject: object)
        } catch {
            throw error.within(root)
        }
    }
}
