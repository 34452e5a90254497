import FHIRModels

/// How to reach a person (`contact` of Patient and Doctor) ⇄ FHIR `telecom`: the first phone,
/// the first email, and every other telecom value in `other` (extra phones and emails, fax,
/// pager, URLs…).
public struct ContactDetails: Sendable, Equatable {
    public var phone: String?
    public var email: String?
    public var other: [String]

    public init(phone: String? = nil, email: String? = nil, other: [String] = []) {
        self.phone = phone
        self.email = email
        self.other = other
    }

    var isEmpty: Bool {
        phone == nil && email == nil && other.isEmpty
    }

    static let members = ["phone", "email", "other"]

    /// Nil when the body sent none of the parts.
    init?(reader: BodyReader) {
        self.init(phone: reader.string("phone"), email: reader.string("email"), other: reader.strings("other"))
        if isEmpty { return nil }
    }

    var json: JSONValue {
        var object = JSONObject()
        object.setString("phone", phone)
        object.setString("email", email)
        object.setArray("other", other.map(JSONValue.string))
        return .object(object)
    }
}

extension ContactDetails {
    /// Which telecom entries hold the phone and the email; every other entry with a value is `other`.
    private struct Layout {
        var phone: Int?
        var email: Int?

        init(_ telecom: [JSONValue]) {
            for (index, entry) in telecom.enumerated() where entry["value"]?.stringValue != nil {
                let system = entry["system"]?.stringValue
                if system == "phone", phone == nil { phone = index }
                if system == "email", email == nil { email = index }
            }
        }

        func isOther(_ index: Int, _ entry: JSONValue) -> Bool {
            index != phone && index != email && entry["value"]?.stringValue != nil
        }
    }

    init?(fhirResource resource: JSONObject) {
        let telecom = resource.array("telecom")
        let layout = Layout(telecom)
        self.init(
            phone: layout.phone.flatMap { telecom[$0]["value"]?.stringValue },
            email: layout.email.flatMap { telecom[$0]["value"]?.stringValue },
            other: telecom.enumerated().compactMap { index, entry in
                layout.isOther(index, entry) ? entry["value"]?.stringValue : nil
            }
        )
        if isEmpty { return nil }
    }

    /// Writes what changed: the phone and email in place (keeping `use`, `rank`, `period`), a
    /// new one appended; `other` entries that stay are kept as they are, new ones are written
    /// with system `other`, removed ones go. Telecoms without a value are never touched.
    static func write(_ new: ContactDetails?, over old: ContactDetails?, into resource: inout JSONObject) {
        guard new != old else { return }
        let new = new ?? ContactDetails()
        let old = old ?? ContactDetails()
        var telecom = resource.array("telecom")
        let layout = Layout(telecom)
        var removed: Set<Int> = []
        var appended: [JSONValue] = []

        func update(_ system: String, _ index: Int?, _ value: String?) {
            if let index {
                if let value {
                    var entry = telecom[index].objectValue ?? JSONObject()
                    entry["value"] = .string(value)
                    telecom[index] = .object(entry)
                } else {
                    removed.insert(index)
                }
            } else if let value {
                appended.append(["system": .string(system), "value": .string(value)])
            }
        }
        if new.phone != old.phone { update("phone", layout.phone, new.phone) }
        if new.email != old.email { update("email", layout.email, new.email) }
        let survivors = telecom.enumerated().filter { !removed.contains($0.offset) }
            .map { (entry: $0.element, isOther: layout.isOther($0.offset, $0.element)) }
        telecom = survivors.map(\.entry)
        if new.other != old.other {
            telecom = ListRewrite.apply(
                telecom,
                mapped: { index, entry in survivors[index].isOther ? entry["value"]?.stringValue : nil },
                to: new.other,
                make: { ["system": "other", "value": .string($0)] }
            )
        }
        resource.setArray("telecom", telecom + appended)
    }
}
