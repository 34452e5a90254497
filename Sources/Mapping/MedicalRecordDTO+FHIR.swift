import FHIRModels

extension MedicalRecordDTO {
    static let documentType: JSONValue = [
        "coding": [["system": .string(RecordSection.loincSystem), "code": "11503-0", "display": "Medical records"]],
    ]
    static let title = "Medical record"
    /// The author of a new record when the server names no doctor (Composition.author is 1..*).
    static let defaultAuthor: JSONValue = ["display": "medical-records"]

    public init(fhir: JSONValue) {
        let resource = fhir.objectValue ?? JSONObject()
        let sections = resource.array("section")
        func section(_ kind: RecordSection) -> JSONObject? {
            kind.index(in: sections).flatMap { sections[$0].objectValue }
        }
        func text(_ kind: RecordSection) -> String? {
            section(kind)?.object("text")?.string("div").map(XHTMLNarrative.text(of:)).flatMap { $0.isEmpty ? nil : $0 }
        }
        func items(_ kind: RecordSection) -> [RecordItem] {
            section(kind).map { FHIRExtensionList.all(in: $0, url: PlatformProfiles.recordItem).map(RecordItem.init(fhirExtension:)) } ?? []
        }
        self.init(
            id: resource.string("id"),
            patientID: ReferenceField.id(of: resource["subject"], type: "Patient"),
            createdAt: resource.string("date"),
            updatedAt: resource.object("meta")?.string("lastUpdated"),
            diagnosis: text(.diagnosis),
            treatment: text(.treatment),
            notes: text(.notes),
            procedures: items(.procedures),
            prescriptions: items(.prescriptions),
            testResults: items(.testResults),
            allergies: items(.allergies),
            immunizations: items(.immunizations)
        )
    }

    /// `createdAt` and `updatedAt` are never written from the model: a new Composition is dated
    /// `context.now`, and `meta` belongs to the store.
    public func fhir(mergingInto existing: JSONValue?, context: MappingContext) -> JSONValue {
        let base = JSONObject.mergeBase(existing, resourceType: Self.resourceType)
        var resource = base ?? ["resourceType": .string(Self.resourceType)]
        let old = base.map { MedicalRecordDTO(fhir: .object($0)) } ?? MedicalRecordDTO()
        if base == nil {
            resource["status"] = "final"
            resource["type"] = Self.documentType
        }
        if patientID != old.patientID {
            resource["subject"] = patientID.map { ReferenceField.retarget(resource["subject"], type: "Patient", id: $0) }
        }
        if base == nil {
            resource["date"] = .string(PlatformFormat.dateTime(context.now))
            resource["author"] = [context.authorPractitionerID.map { ReferenceField.make(type: "Practitioner", id: $0) } ?? Self.defaultAuthor]
            resource["title"] = .string(Self.title)
        }
        var sections = resource.array("section")
        for kind in RecordSection.allCases {
            if kind.holdsText {
                if text(kind) != old.text(kind) { Self.write(text(kind), to: kind, in: &sections) }
            } else if items(kind) != old.items(kind) {
                Self.write(items(kind), to: kind, in: &sections)
            }
        }
        resource.setArray("section", sections)
        return .object(resource)
    }

    /// A text section: its narrative is the text. Cleared, the section goes unless it still has
    /// entries or sub-sections (cmp-1 then holds without text).
    private static func write(_ text: String?, to kind: RecordSection, in sections: inout [JSONValue]) {
        let index = kind.index(in: sections)
        var section = index.flatMap { sections[$0].objectValue } ?? kind.newSection()
        if let text {
            section["text"] = ["status": "generated", "div": .string(XHTMLNarrative.div(text: text))]
        } else {
            section["text"] = nil
        }
        place(section, at: index, in: &sections)
    }

    /// A list section: items are `record-item` extensions (an item that stays keeps its
    /// extension as it was) and the narrative lists them, followed by any foreign narrative
    /// the section had.
    private static func write(_ items: [RecordItem], to kind: RecordSection, in sections: inout [JSONValue]) {
        let index = kind.index(in: sections)
        var section = index.flatMap { sections[$0].objectValue } ?? kind.newSection()
        section.setArray("extension", ListRewrite.apply(
            section.array("extension"),
            mapped: { _, entry in
                entry["url"]?.stringValue == PlatformProfiles.recordItem ? entry.objectValue.map(RecordItem.init(fhirExtension:)) : nil
            },
            to: items,
            make: \.fhirExtension
        ))
        let oldText = section.object("text")
        let rest = oldText?.string("div").map(XHTMLNarrative.rest(of:)) ?? ""
        if items.isEmpty && rest.isEmpty {
            section["text"] = nil
        } else {
            let status = rest.isEmpty ? "generated" : (oldText?.string("status") ?? "additional")
            section["text"] = ["status": .string(status), "div": .string(XHTMLNarrative.div(items: items, rest: rest))]
        }
        place(section, at: index, in: &sections)
    }

    /// Puts a section back, or drops it when nothing satisfies cmp-1 (text, entries or
    /// sub-sections) any more.
    private static func place(_ section: JSONObject, at index: Int?, in sections: inout [JSONValue]) {
        let keep = section["text"] != nil || section["entry"] != nil || section["section"] != nil
        switch (index, keep) {
        case (let index?, true): sections[index] = .object(section)
        case (let index?, false): sections.remove(at: index)
        case (nil, true): sections.append(.object(section))
        case (nil, false): break
        }
    }
}
