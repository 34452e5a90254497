/// A day of a doctor's weekly schedule, with the FHIR `days-of-week` codes themselves.
public enum DayOfWeek: String, Sendable, Equatable, CaseIterable {
    case mon, tue, wed, thu, fri, sat, sun
}
