import FHIRModels

/// A postal address (`address` of Patient and Doctor) ⇄ the home address of the FHIR resource,
/// or its first address when none is marked home.
public struct PostalAddress: Sendable, Equatable {
    public var line: [String]
    public var city: String?
    public var state: String?
    public var postalCode: String?
    public var country: String?

    public init(line: [String] = [], city: String? = nil, state: String? = nil, postalCode: String? = nil, country: String? = nil) {
        self.line = line
        self.city = city
        self.state = state
        self.postalCode = postalCode
        self.country = country
    }

    var isEmpty: Bool {
        line.isEmpty && city == nil && state == nil && postalCode == nil && country == nil
    }

    static let members = ["line", "city", "state", "postalCode", "country"]

    /// Nil when the body sent no part of an address (`{}` clears it like absence does).
    init?(reader: BodyReader) {
        self.init(
            line: reader.strings("line"),
            city: reader.string("city"),
            state: reader.string("state"),
            postalCode: reader.string("postalCode"),
            country: reader.string("country")
        )
        if isEmpty { return nil }
    }

    /// Reads an address member of a body that is not a platform model (registration) with the
    /// platform's rules: nil when absent or empty, and the problems found, under `field`.
    public static func read(_ value: JSONValue?, field: String) -> (address: PostalAddress?, issues: [FieldIssue]) {
        let issues = BodyIssues()
        let reader = BodyReader(["address": value ?? .null], accepted: ["address"], issues: issues)
        let address = reader.object("address", accepted: members).flatMap(PostalAddress.init(reader:))
        let renamed = issues.list.map { issue in
            FieldIssue(field: field + issue.field.dropFirst("address".count), issue: issue.issue)
        }
        return (renamed.isEmpty ? address : nil, renamed)
    }

    var json: JSONValue {
        var object = JSONObject()
        object.setArray("line", line.map(JSONValue.string))
        object.setString("city", city)
        object.setString("state", state)
        object.setString("postalCode", postalCode)
        object.setString("country", country)
        return .object(object)
    }
}

extension PostalAddress {
    static func selectedIndex(_ addresses: [JSONValue]) -> Int? {
        addresses.firstIndex { $0["use"]?.stringValue == "home" } ?? (addresses.isEmpty ? nil : 0)
    }

    /// The platform address of a resource; nil when the selected address has none of the parts.
    init?(fhirResource resource: JSONObject) {
        let addresses = resource.array("address")
        guard let index = Self.selectedIndex(addresses), let address = addresses[index].objectValue else { return nil }
        self.init(
            line: address.array("line").compactMap(\.stringValue),
            city: address.string("city"),
            state: address.string("state"),
            postalCode: address.string("postalCode"),
            country: address.string("country")
        )
        if isEmpty { return nil }
    }

    /// Writes the parts that changed into the selected address, keeping its `use`, `period`,
    /// extensions and the other addresses. Its `text` is dropped once a part changes (it would
    /// restate the old address). Cleared completely, the address goes unless it still carries
    /// foreign details.
    static func write(_ new: PostalAddress?, over old: PostalAddress?, into resource: inout JSONObject) {
        guard new != old else { return }
        var addresses = resource.array("address")
        let new = new ?? PostalAddress()
        let old = old ?? PostalAddress()
        var address: JSONObject
        let index = selectedIndex(addresses)
        if let index, let existing = addresses[index].objectValue {
            address = existing
        } else {
            address = ["use": "home"]
        }
        if new.line != old.line {
            address.setArray("line", new.line.map(JSONValue.string))
            address["_line"] = nil
        }
        if new.city != old.city { address.setString("city", new.city) }
        if new.state != old.state { address.setString("state", new.state) }
        if new.postalCode != old.postalCode { address.setString("postalCode", new.postalCode) }
        if new.country != old.country { address.setString("country", new.country) }
        address["text"] = nil
        address["_text"] = nil
        let informative = address.keys.contains { !["use", "_use", "type", "_type"].contains($0) }
        switch (index, informative) {
        case (let index?, true): addresses[index] = .object(address)
        case (let index?, false): addresses.remove(at: index)
        case (nil, true): addresses.append(.object(address))
        case (nil, false): break
        }
        resource.setArray("address", addresses)
    }
}
