import FHIRModels

/// What a resource says about access, computed on every write from its clear content: the
/// patients whose compartment holds it, and the care relationships it states (plus the
/// writing doctor's authorship of each of those patients' records).
struct AccessIndex: Sendable {
    /// `resource.index_version` of rows whose compartment and relationship rows were written by
    /// this code. Rows from before (version 1) have none: their reads parse the resource to
    /// decide access, and a later write (or reindex) brings them up to date.
    static let version = 2

    let patientIDs: Set<String>
    let careRelationships: [CareRelationship]

    init(type: String, id: String, resource: JSONValue, author: String?) {
        var patients = PatientCompartment.patientIDs(of: resource)
        if type == "Patient" { patients.insert(id) }
        patientIDs = patients
        var care = CareRelationship.extract(from: resource)
        if let author {
            for patient in patients.sorted() {
                care.append(CareRelationship(practitionerID: author, patientID: patient, kind: .author))
            }
        }
        careRelationships = care
    }
}
