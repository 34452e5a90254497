import FHIRModels

/// What a resource says about access, computed on every write from its clear content: the
/// patients whose compartment holds it, and the care relationships it states (plus the
/// writing doctor's authorship of each of those patients' records).
struct AccessIndex: Sendable {
    /// `resource.index_version` of rows whose compartment and relationship rows were written by
    /// this code. Rows from before (version 1) have none: their reads parse the resource to
    /// decide access, and a later write (or reindex) brings them up to date.
    static let version = 2

    /// The patients of the resource row `alias`'s compartment, from the rows written with it.
    /// The one SQL text of that lookup: the read and the search statements both select it.
    static func patientsSQL(of alias: String) -> String {
        "ARRAY(SELECT rp.patient_id FROM resource_patient rp WHERE rp.resource_key = \(alias).resource_key)"
    }

    /// `patients` (an SQL expression) when row `alias` was indexed by this version, else NULL:
    /// older rows are decided by parsing them.
    static func currentCompartmentSQL(of alias: String, patients: String) -> String {
        "CASE WHEN \(alias).index_version < \(version) THEN NULL ELSE \(patients) END"
    }

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
