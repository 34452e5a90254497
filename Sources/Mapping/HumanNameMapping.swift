import FHIRModels

/// `firstName`/`lastName` ⇄ `name[official, else first].given[0]` / `.family`, shared by
/// Patient and Practitioner. Other names and other given names are never touched.
enum HumanNameMapping {
    static func selectedIndex(_ names: [JSONValue]) -> Int? {
        names.firstIndex { $0["use"]?.stringValue == "official" } ?? (names.isEmpty ? nil : 0)
    }

    static func read(_ resource: JSONObject) -> (first: String?, last: String?) {
        let names = resource.array("name")
        guard let index = selectedIndex(names), let name = names[index].objectValue else { return (nil, nil) }
        return (name.array("given").first?.stringValue, name.string("family"))
    }

    /// Writes the parts that changed. A changed name loses its `text`, which would now be stale.
    static func write(
        into resource: inout JSONObject,
        first: String?, last: String?,
        oldFirst: String?, oldLast: String?
    ) {
        guard first != oldFirst || last != oldLast else { return }
        var names = resource.array("name")
        guard let index = selectedIndex(names), var name = names[index].objectValue else {
            var name: JSONObject = ["use": "official"]
            name.setString("family", last)
            if let first { name["given"] = [.string(first)] }
            if name.count > 1 { names.append(.object(name)) }
            resource.setArray("name", names)
            return
        }
        if last != oldLast {
            name.setString("family", last)
        }
        if first != oldFirst {
            var given = name.array("given")
            var givenExtensions = name.array("_given")
            if let first {
                if given.isEmpty { given = [.string(first)] } else { given[0] = .string(first) }
            } else if !given.isEmpty {
                given.removeFirst()
                if !givenExtensions.isEmpty { givenExtensions.removeFirst() }
            }
            name.setArray("given", given)
            name.setArray("_given", givenExtensions.contains { !$0.isNull } ? givenExtensions : [])
        }
        name["text"] = nil
        name["_text"] = nil
        if name.keys.allSatisfy({ ["use", "_use"].contains($0) }) {
            names.remove(at: index)
        } else {
            names[index] = .object(name)
        }
        resource.setArray("name", names)
    }
}
