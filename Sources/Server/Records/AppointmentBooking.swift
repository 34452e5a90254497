import FHIRModels
import Foundation
import Mapping

/// The schedule check of a patient's booking: a planned Encounter with a doctor and a time is
/// accepted only when the time lies in the doctor's working hours (`DoctorDTO.workSchedule`, the
/// `work-schedule` extensions of their Practitioner) and overlaps none of their other live
/// appointments. It reads the database, so it lives here, in the services, and runs inside the
/// write's transaction from `RecordWriter`: the platform face, the FHIR face (create, PUT that
/// creates, conditional update) and transaction Bundles all book through it.
///
/// `PatientAppointments` (pure, in Access/) has already allowed the write: the Encounter is the
/// patient's own, `planned`, with at most one Practitioner participant.
///
/// Doctors, admins and system clients write appointments without this check (they run the
/// schedule); only patients book themselves into it.
struct AppointmentBooking: Sendable {
    /// The zone the schedules' `HH:MM:SS` times are in (`medrec.scheduleTimeZone`): working hours
    /// carry no zone of their own, appointment times always do.
    var timeZone: TimeZone = AppointmentBooking.utc

    static let utc = TimeZone(identifier: "UTC")!
    /// How long an appointment without `period.end` lasts (the platform's appointments have a
    /// start only).
    static let defaultLength: TimeInterval = 30 * 60
    /// How far before a slot another appointment may start and still reach into it. Encounters
    /// longer than this (hospital stays, in which the doctor is one of many participants) do not
    /// block a consultation slot.
    static let lookBehind: TimeInterval = 24 * 60 * 60
    /// The most appointments of one doctor read for one check; a day holds far fewer.
    static let maxCandidates = 1000

    /// The time a booking takes in one doctor's schedule.
    struct Slot: Sendable {
        let doctorID: String
        let start: Date
        let end: Date

        func overlaps(_ other: Slot) -> Bool {
            doctorID == other.doctorID && start < other.end && other.start < end
        }
    }

    /// Whether writes of `type` by `principal` book through this check.
    static func applies(to type: String, for principal: Principal) -> Bool {
        principal.role == .patient && type == "Encounter"
    }

    /// The slot a patient's new Encounter asks for; nil for a request (no time). A time without
    /// a doctor, a time without a zone, in the past, or ending before it starts is refused.
    func requestedSlot(_ encounter: JSONValue, now: Date = Date()) throws -> Slot? {
        guard let startText = encounter["period"]?["start"]?.stringValue else {
            if encounter["period"]?["end"] != nil {
                throw BookingRefused(.invalid, "an appointment with an end needs a start time", field: .dateTime)
            }
            return nil
        }
        let doctors = (encounter["participant"]?.arrayValue ?? []).compactMap(PatientAppointments.doctorID(in:))
        guard let doctorID = doctors.first else {
            throw BookingRefused(.invalid, "an appointment with a time needs the doctor it is booked with", field: .doctorID)
        }
        guard let start = Self.instant(startText) else {
            throw BookingRefused(.invalid, "an appointment time needs a date, a time with seconds and a zone", field: .dateTime)
        }
        guard start > now else { throw BookingRefused(.invalid, "an appointment cannot be booked in the past", field: .dateTime) }
        var end = start.addingTimeInterval(Self.defaultLength)
        if let endText = encounter["period"]?["end"]?.stringValue {
            guard let explicit = Self.instant(endText), explicit > start else {
                throw BookingRefused(.invalid, "an appointment must end after it starts", field: .dateTime)
            }
            end = explicit
        }
        return Slot(doctorID: doctorID, start: start, end: end)
    }

    /// Refuses `slot` unless the doctor's working hours hold it and none of their live
    /// appointments (stored, or `pending` in the same transaction) overlaps it. Locks the
    /// doctor's Practitioner until the transaction ends, so two patients cannot book the same
    /// time at once: the second waits and then sees the first's appointment.
    func check(_ slot: Slot, encounterID: String, in transaction: any ResourceTransaction, pending: [Slot] = []) async throws {
        guard let practitioner = try await transaction.readForUpdate(type: "Practitioner", id: slot.doctorID),
              let resource = try practitioner.resource() else {
            throw BookingRefused(.invalid, "the appointment names no existing doctor", field: .doctorID)
        }
        if resource["active"]?.boolValue == false {
            throw BookingRefused(.unavailable, "the doctor is not taking appointments")
        }
        guard worksDuring(slot, schedule: DoctorDTO(fhir: resource).workSchedule) else {
            throw BookingRefused(.unavailable, "the time is outside the doctor's working hours")
        }
        if pending.contains(where: slot.overlaps) {
            throw BookingRefused(.unavailable, "the doctor has another appointment at that time")
        }
        for other in try await appointments(of: slot.doctorID, around: slot, in: transaction) where other.id != encounterID {
            if other.slot.overlaps(slot) { throw BookingRefused(.unavailable, "the doctor has another appointment at that time") }
        }
    }

    /// The doctor's live appointments that start in the look-behind window before the slot's end.
    private func appointments(
        of doctorID: String, around slot: Slot, in transaction: any ResourceTransaction
    ) async throws -> [(id: String, slot: Slot)] {
        let parser = SearchQueryParser(baseURL: "", strict: true, maxCount: Self.maxCandidates)
        let query = try parser.parse(types: ["Encounter"], items: [
            ("practitioner", "Practitioner/\(doctorID)"),
            ("date", "sa" + Self.text(slot.start.addingTimeInterval(-Self.lookBehind))),
            ("date", "lt" + Self.text(slot.end)),
            ("_count", String(Self.maxCandidates)),
        ])
        var found: [(id: String, slot: Slot)] = []
        for stored in try await transaction.find(query) {
            guard let encounter = try stored.resource(),
                  !CareRelationship.inactiveEncounterStatuses.contains(encounter["status"]?.stringValue ?? ""),
                  let start = encounter["period"]?["start"]?.stringValue.flatMap(Self.instant) else { continue }
            let end = encounter["period"]?["end"]?.stringValue.flatMap(Self.instant) ?? start.addingTimeInterval(Self.defaultLength)
            found.append((stored.id, Slot(doctorID: doctorID, start: start, end: max(end, start))))
        }
        return found
    }

    /// Whether the slot lies within the working hours of its day, in `timeZone`. Windows of one
    /// day that touch or overlap count as one (09:00–12:00 and 12:00–17:00 hold 11:45–12:15);
    /// a slot that runs past midnight is outside.
    func worksDuring(_ slot: Slot, schedule: [WorkSchedule]) -> Bool {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let dayStart = calendar.startOfDay(for: slot.start)
        let from = slot.start.timeIntervalSince(dayStart)
        let to = slot.end.timeIntervalSince(dayStart)
        guard to <= 24 * 60 * 60 else { return false }
        let weekdays: [DayOfWeek] = [.sun, .mon, .tue, .wed, .thu, .fri, .sat]
        let day = weekdays[calendar.component(.weekday, from: slot.start) - 1]
        let windows = schedule.filter { $0.daysOfWeek.contains(day) }.compactMap { entry -> (TimeInterval, TimeInterval)? in
            guard let start = entry.startTime.flatMap(Self.seconds), let end = entry.endTime.flatMap(Self.seconds), end > start else {
                return nil
            }
            return (start, end)
        }.sorted { $0.0 < $1.0 }
        var merged: [(TimeInterval, TimeInterval)] = []
        for window in windows {
            if let last = merged.last, window.0 <= last.1 {
                merged[merged.count - 1].1 = max(last.1, window.1)
            } else {
                merged.append(window)
            }
        }
        return merged.contains { $0.0 <= from && to <= $0.1 }
    }

    /// `HH:MM:SS` as seconds after midnight.
    static func seconds(_ time: String) -> TimeInterval? {
        let parts = time.split(separator: ":").map { Int($0) }
        guard parts.count == 3, let hours = parts[0], let minutes = parts[1], let seconds = parts[2] else { return nil }
        return TimeInterval(hours * 3600 + minutes * 60 + seconds)
    }

    /// A FHIR dateTime with a time and a zone as an instant; nil for partial dates.
    static func instant(_ text: String) -> Date? {
        guard PlatformFormat.isDateTime(text) else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = text.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        return formatter.date(from: text)
    }

    static func text(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = utc
        return formatter.string(from: date)
    }
}

/// A patient's booking the doctor's schedule does not allow, or that cannot be checked. Faces
/// answer `.unavailable` with 409 and `.invalid` with 422; the message names the problem,
/// never the record's content.
public struct BookingRefused: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The slot is taken or outside working hours (409).
        case unavailable
        /// The booking does not say enough to be checked (422).
        case invalid
    }

    /// Which part of the appointment is at fault, for the platform's error details.
    public enum Field: String, Sendable {
        case dateTime, doctorID = "doctorId"

        /// The same element on the FHIR face.
        public var fhirExpression: String {
            switch self {
            case .dateTime: "Encounter.period"
            case .doctorID: "Encounter.participant"
            }
        }
    }

    public let kind: Kind
    public let message: String
    public let field: Field?

    init(_ kind: Kind, _ message: String, field: Field? = nil) {
        self.kind = kind
        self.message = message
        self.field = field
    }

    public var description: String { message }
}
