import FHIRModels

/// The one clinical type a patient writes: their own appointments, stored as Encounters. Pure
/// rules on the content; whether a booked time is free in the doctor's schedule needs the
/// database and is `AppointmentBooking`'s (Records), which runs after these allow a create.
///
/// - create: an Encounter in the patient's own compartment only (subject is themselves, no other
///   patient named), status `planned` (the platform's `scheduled`: the mapping has no separate
///   "requested" state). Without `period.start` it is a **request** (a reason, optionally the
///   doctor asked for, no time: nothing to check in a schedule); with a time it is a
///   **booking** and must name its doctor, whose schedule then decides. At most one
///   participant, a Practitioner; only the elements an appointment needs (below), so a patient
///   cannot attach diagnoses, accounts or other records to it.
/// - update (PUT, PATCH, the platform's cancel): only cancelling a planned appointment, with no
///   other element changed. Cancelling again (no change at all) is allowed, so a repeated
///   platform `DELETE` answers as the first did.
/// - delete: never (the record is kept; cancelling is how a patient takes it back).
enum PatientAppointments {
    /// The status a patient's new appointment has: `planned` (requested or booked).
    static let plannedStatus = "planned"
    static let cancelledStatus = "cancelled"

    /// The top-level Encounter elements a patient may write: what an appointment request or
    /// booking says (who, with whom, when, why, the platform's notes extension, narrative).
    /// Not `modifierExtension` (it could change what the rest means), not links to other
    /// records (`diagnosis`, `account`, `basedOn`, `episodeOfCare`, `partOf`, ...).
    static let writableElements: Set<String> = [
        "resourceType", "id", "meta", "text", "extension", "status", "class", "type", "serviceType", "priority", "subject",
        "participant", "period", "reasonCode",
    ]
    /// What a participant entry may carry: the doctor, and what kind of participant they are.
    static let participantElements: Set<String> = ["individual", "type", "period"]

    /// A new Encounter (create, or update-as-create) written by patient `me`.
    /// `compartment`: the patients whose compartment the Encounter is in.
    static func decideCreate(_ new: JSONValue, patient me: String, compartment: Set<String>) -> AccessDecision {
        guard compartment == [me], subjectID(of: new) == me else { return .deny("compartment") }
        guard new["status"]?.stringValue == plannedStatus else { return .deny("a patient's new appointment must be planned") }
        guard let object = new.objectValue else { return .deny("role") }
        for key in object.keys where !writableElements.contains(key) {
            return .deny("element \(String(key.prefix(64)))")
        }
        if new["meta"]?["security"] != nil { return .deny("meta.security") }
        let participants = new["participant"]?.arrayValue ?? []
        guard participants.count <= 1 else { return .deny("participant: at most one doctor") }
        for participant in participants {
            guard let entry = participant.objectValue, entry.keys.allSatisfy(participantElements.contains),
                  doctorID(in: participant) != nil else { return .deny("participant: a Practitioner only") }
        }
        return .allow
    }

    /// A change by patient `me` of their Encounter `old` into `new`: only a cancellation.
    static func decideUpdate(old: JSONValue, new: JSONValue, patient me: String, compartment: Set<String>) -> AccessDecision {
        guard compartment == [me], subjectID(of: old) == me, subjectID(of: new) == me else { return .deny("compartment") }
        guard new["status"]?.stringValue == cancelledStatus else { return .deny("a patient may only cancel an appointment") }
        let oldStatus = old["status"]?.stringValue
        guard oldStatus == plannedStatus || oldStatus == cancelledStatus else {
            return .deny("only a planned appointment can be cancelled")
        }
        if old["meta"]?["security"].isEquivalentOrAbsent(to: new["meta"]?["security"]) == false { return .deny("meta.security") }
        // `id` and `meta` are the store's; everything else must stay as it was.
        let keys = Set(old.objectValue?.keys ?? []).union(new.objectValue?.keys ?? []).subtracting(["id", "meta", "status"])
        for key in keys.sorted() where old[key].isEquivalentOrAbsent(to: new[key]) == false {
            return .deny("a patient may only cancel an appointment (\(String(key.prefix(64))) changed)")
        }
        return .allow
    }

    /// The patient id of `subject`, when it is a Patient.
    static func subjectID(of encounter: JSONValue) -> String? {
        encounter["subject"]?["reference"]?.stringValue.flatMap(PatientCompartment.patientID(fromReference:))
    }

    /// The local Practitioner a participant entry names.
    static func doctorID(in participant: JSONValue) -> String? {
        guard let text = participant["individual"]?["reference"]?.stringValue,
              let target = ResourceReference(text).target, target.type == "Practitioner" else { return nil }
        return target.id
    }
}
