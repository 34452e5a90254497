import FHIRModels

/// Which patients' compartments a resource belongs to, per the FHIR R4 Patient
/// CompartmentDefinition. Access control uses it to keep a patient (or a doctor's care
/// relationship) to the resources that are about that patient.
///
/// The member paths live in `PatientCompartment+Data.swift`, generated from the definition:
/// `python3 scripts/generate-compartments.py` (see the script for the definitions folder).
public enum PatientCompartment {
    /// Resource types that can belong to a patient's compartment (Patient included).
    public static var resourceTypes: Set<String> { typeNames }

    /// The element paths (e.g. `[["subject"], ["performer"]]`, `[["participant", "individual"]]`)
    /// whose references to Patient put a resource of `type` in that patient's compartment.
    /// Empty for types outside the compartment.
    public static func memberPaths(for type: String) -> [[String]] {
        pathsByType[type] ?? []
    }

    /// Patient ids whose compartment holds `resource`: for a Patient, its own id plus the
    /// Patients in `link.other`; otherwise the Patient references reachable along
    /// `memberPaths`. References to other types (Group, Practitioner...) are ignored, as are
    /// contained, `urn:` and conditional references, which name no stored Patient.
    public static func patientIDs(of resource: JSONValue) -> Set<String> {
        guard let type = resource["resourceType"]?.stringValue else { return [] }
        var ids: Set<String> = []
        if type == "Patient", let id = resource["id"]?.stringValue, FHIRLexical.isID(id) {
            ids.insert(id)
        }
        for path in memberPaths(for: type) {
            for element in values(at: path[...], in: resource) {
                if let reference = element["reference"]?.stringValue, let id = patientID(fromReference: reference) {
                    ids.insert(id)
                }
            }
        }
        return ids
    }

    /// The Patient id a reference string points at, or nil.
    public static func patientID(fromReference reference: String) -> String? {
        ResourceReference(reference).id(ofType: "Patient")
    }

    /// The type and id any literal reference points at; see `ResourceReference.target`.
    public static func referenceTarget(_ reference: String) -> (type: String, id: String)? {
        ResourceReference(reference).target
    }

    private static let typeNames = Set(pathsByType.keys)

    /// Every value at `path` below `value`, stepping through arrays at any level.
    static func values(at path: ArraySlice<String>, in value: JSONValue) -> [JSONValue] {
        if case .array(let items) = value {
            return items.flatMap { values(at: path, in: $0) }
        }
        guard let name = path.first else { return [value] }
        guard let child = value[name] else { return [] }
        return values(at: path.dropFirst(), in: child)
    }
}
