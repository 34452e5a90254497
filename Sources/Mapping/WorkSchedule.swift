import FHIRModels

/// One weekly availability slot of a doctor ⇄ one `work-schedule` extension on the
/// Practitioner, shaped like `PractitionerRole.availableTime` (which Practitioner lacks).
public struct WorkSchedule: Sendable, Equatable {
    public var daysOfWeek: [DayOfWeek]
    /// `HH:MM:SS` (a body may send `HH:MM`).
    public var startTime: String?
    /// `HH:MM:SS`, after `startTime`.
    public var endTime: String?

    public init(daysOfWeek: [DayOfWeek], startTime: String?, endTime: String?) {
        self.daysOfWeek = daysOfWeek
        self.startTime = startTime
        self.endTime = endTime
    }

    static let members = ["daysOfWeek", "startTime", "endTime"]

    init(reader: BodyReader) {
        let days: [DayOfWeek] = reader.codes("daysOfWeek")
        let sent = reader.object["daysOfWeek"]
        if sent == nil || sent == .null {
            reader.report("daysOfWeek", "is required")
        } else if sent?.arrayValue?.isEmpty == true {
            reader.report("daysOfWeek", "must list at least one day")
        } else if Set(days).count != days.count {
            reader.report("daysOfWeek", "must not repeat a day")
        }
        let start = reader.time("startTime", required: true)
        var end = reader.time("endTime", required: true)
        if let start, let endTime = end, endTime <= start {
            reader.report("endTime", "must be after startTime")
            end = nil
        }
        self.init(daysOfWeek: days, startTime: start, endTime: end)
    }

    var json: JSONValue {
        var object = JSONObject()
        object.setArray("daysOfWeek", daysOfWeek.map { .string($0.rawValue) })
        object.setString("startTime", startTime)
        object.setString("endTime", endTime)
        return .object(object)
    }
}

extension WorkSchedule {
    /// Days with codes outside `days-of-week` are skipped.
    init(fhirExtension: JSONObject) {
        let parts = fhirExtension.array("extension").compactMap(\.objectValue)
        func values(_ url: String, _ key: String) -> [String] {
            parts.filter { $0.string("url") == url }.compactMap { $0.string(key) }
        }
        self.init(
            daysOfWeek: values("daysOfWeek", "valueCode").compactMap(DayOfWeek.init(rawValue:)),
            startTime: values("availableStartTime", "valueTime").first,
            endTime: values("availableEndTime", "valueTime").first
        )
    }

    var fhirExtension: JSONValue {
        var parts: [JSONValue] = daysOfWeek.map { FHIRExtensionList.make(url: "daysOfWeek", key: "valueCode", .string($0.rawValue)) }
        if let startTime { parts.append(FHIRExtensionList.make(url: "availableStartTime", key: "valueTime", .string(startTime))) }
        if let endTime { parts.append(FHIRExtensionList.make(url: "availableEndTime", key: "valueTime", .string(endTime))) }
        var object: JSONObject = ["url": .string(PlatformProfiles.workSchedule)]
        object.setArray("extension", parts)
        return .object(object)
    }
}
