/// A resource type with a typed model. `AnyFHIRResource` holds any resource, typed or not.
public protocol FHIRResource: FHIRJSONRepresentable {
    /// The JSON `resourceType`, e.g. `"Patient"`.
    static var resourceType: String { get }
    /// `Resource.id`: the logical id, assigned by the server that stores the resource.
    var id: String? { get set }
    /// `Resource.meta`: version id, last updated, profiles, security labels and tags.
    var meta: Meta? { get set }
}
