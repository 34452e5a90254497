import FHIRModels
import Foundation

extension AppointmentDTO {
    /// Encounter.class is 1..1; the platform's appointments are ambulatory visits.
    static let ambulatoryClass: JSONValue = [
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "code": "AMB",
        "display": "ambulatory",
    ]

    public init(fhir: JSONValue) {
        let resource = fhir.objectValue ?? JSONObject()
        let participants = resource.array("participant")
        self.init(
            id: resource.string("id"),
            patientID: ReferenceField.id(of: resource["subject"], type: "Patient"),
            doctorID: Self.doctorIndex(participants).flatMap { ReferenceField.id(of: participants[$0]["individual"], type: "Practitioner") },
            dateTime: resource.object("period")?.string("start"),
            reasonForVisit: resource.array("reasonCode").first?.conceptText,
            status: resource.string("status").flatMap(AppointmentStatus.init(fhirCode:)),
            notes: FHIRExtensionList.value(in: resource, url: PlatformProfiles.appointmentNotes, as: "valueString")?.stringValue
        )
    }

    /// The first participant that is a local Practitioner.
    static func doctorIndex(_ participants: [JSONValue]) -> Int? {
        participants.firstIndex { ReferenceField.id(of: $0["individual"], type: "Practitioner") != nil }
    }

    public func fhir(mergingInto existing: JSONValue?, context: MappingContext) -> JSONValue {
        let base = JSONObject.mergeBase(existing, resourceType: Self.resourceType)
        var resource = base ?? ["resourceType": .string(Self.resourceType)]
        let old = base.map { AppointmentDTO(fhir: .object($0)) } ?? AppointmentDTO()
        if base == nil {
            // Both are 1..1; `unknown` reads back as no status, so a model without one round-trips.
            resource["status"] = .string(status?.fhirCode ?? "unknown")
            resource["class"] = Self.ambulatoryClass
        } else if status != old.status, let status {
            // Status is 1..1: clearing it keeps the stored one.
            resource["status"] = .string(status.fhirCode)
        }
        if patientID != old.patientID {
            resource["subject"] = patientID.map { ReferenceField.retarget(resource["subject"], type: "Patient", id: $0) }
        }
        if doctorID != old.doctorID {
            var participants = resource.array("participant")
            let index = Self.doctorIndex(participants)
            switch (index, doctorID) {
            case (let index?, let doctorID?):
                var participant = participants[index].objectValue ?? JSONObject()
                participant["individual"] = ReferenceField.retarget(participant["individual"], type: "Practitioner", id: doctorID)
                participants[index] = .object(participant)
            case (let index?, nil):
                participants.remove(at: index)
            case (nil, let doctorID?):
                participants.insert(["individual": ReferenceField.make(type: "Practitioner", id: doctorID)], at: 0)
            case (nil, nil):
                break
            }
            resource.setArray("participant", participants)
        }
        if dateTime != old.dateTime {
            var period = resource.object("period") ?? JSONObject()
            period.setString("start", dateTime)
            if let dateTime, let end = period.string("end"), Self.isBefore(end, dateTime) {
                // per-1: a moved appointment must not end before it starts.
                period["end"] = nil
                period["_end"] = nil
            }
            resource.setObject("period", period)
        }
        if reasonForVisit != old.reasonForVisit {
            var reasons = resource.array("reasonCode")
            if let reasonForVisit {
                // A new reason replaces the concept: old codings would contradict the text.
                let concept: JSONValue = ["text": .string(reasonForVisit)]
                if reasons.isEmpty { reasons = [concept] } else { reasons[0] = concept }
            } else if !reasons.isEmpty {
                reasons.removeFirst()
            }
            resource.setArray("reasonCode", reasons)
        }
        if notes != old.notes {
            FHIRExtensionList.setValue(in: &resource, url: PlatformProfiles.appointmentNotes, key: "valueString", notes.map(JSONValue.string))
        }
        return .object(resource)
    }

    /// Whether dateTime `a` is before `b`; false when either is not a full dateTime.
    private static func isBefore(_ a: String, _ b: String) -> Bool {
        guard let first = instant(a), let second = instant(b) else { return false }
        return first < second
    }

    private static func instant(_ text: String) -> Date? {
        guard PlatformFormat.isDateTime(text) else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = text.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
