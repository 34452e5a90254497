import FHIRModels
import Foundation
import Mapping
import PropertyBased
import Testing

@Suite struct PlatformProfilesTests {
    static let profilesFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("profiles")

    static func profileFiles() throws -> [String: JSONValue] {
        let names = try FileManager.default.contentsOfDirectory(atPath: profilesFolder.path)
            .filter { $0.hasSuffix(".json") && $0 != "encryption-policy.json" }
        var profiles: [String: JSONValue] = [:]
        for name in names {
            profiles[String(name.dropLast(".json".count))] = try FHIRJSON.parse(Data(contentsOf: profilesFolder.appendingPathComponent(name)))
        }
        return profiles
    }

    static var byURL: [String: JSONValue] {
        Dictionary(uniqueKeysWithValues: PlatformProfiles.all.map { ($0["url"]?.stringValue ?? "", $0) })
    }

    @Test func theEmbeddedProfilesAreTheFilesInProfiles() throws {
        let files = try Self.profileFiles()
        let embedded = Dictionary(uniqueKeysWithValues: PlatformProfiles.all.map { ($0["id"]?.stringValue ?? "", $0) })
        #expect(Set(embedded.keys) == Set(files.keys), "run python3 scripts/embed-profiles.py")
        for (id, profile) in files {
            #expect(embedded[id] == profile, "profiles/\(id).json differs from its embedded copy: run python3 scripts/embed-profiles.py")
        }
    }

    @Test func everyExtensionURLHasItsValidProfile() {
        let urls = [
            PlatformProfiles.patientInsurance, PlatformProfiles.qualificationRole, PlatformProfiles.workSchedule,
            PlatformProfiles.appointmentNotes, PlatformProfiles.recordItem, PlatformProfiles.claimInsuranceCoverage,
            PlatformProfiles.claimOutstandingAmount, PlatformProfiles.claimPaymentStatus,
        ]
        #expect(Set(Self.byURL.keys) == Set(urls))
        for profile in PlatformProfiles.all {
            let id = profile["id"]?.stringValue ?? ""
            #expect(profile["url"]?.stringValue == "https://medical-records.example/fhir/StructureDefinition/\(id)")
            #expect(profile["resourceType"] == "StructureDefinition" && profile["kind"] == "complex-type")
            #expect(profile["type"] == "Extension" && profile["derivation"] == "constraint")
            #expect(profile["baseDefinition"] == "http://hl7.org/fhir/StructureDefinition/Extension")
            #expect(profile["fhirVersion"] == "4.0.1" && profile["status"] == "active")
            let issues = FHIRValidator().validate(profile)
            #expect(!issues.hasErrors, "\(id): \(issues)")
        }
    }

    /// Each extension the mapping writes sits where its profile's context says, uses only the
    /// sub-extensions the profile slices, and the value type it declares.
    @Test func whatTheMappingWritesMatchesTheProfiles() async {
        await propertyCheck(
            count: 50,
            input: Generators.patient, Generators.doctor, Generators.appointment, Generators.billing, Generators.medicalRecord
        ) { patient, doctor, appointment, billing, record in
            let context = MappingContext(authorPractitionerID: "d1")
            let resources = [
                patient.fhir(mergingInto: nil, context: context), doctor.fhir(mergingInto: nil, context: context),
                appointment.fhir(mergingInto: nil, context: context), billing.fhir(mergingInto: nil, context: context),
                record.fhir(mergingInto: nil, context: context),
            ]
            for resource in resources {
                Self.checkExtensions(resource, path: resource["resourceType"]?.stringValue ?? "")
            }
        }
    }

    static func checkExtensions(_ value: JSONValue, path: String) {
        switch value {
        case .array(let elements):
            for element in elements { checkExtensions(element, path: path) }
        case .object(let object):
            for (key, member) in object where key != "extension" {
                checkExtensions(member, path: "\(path).\(key)")
            }
            for item in object["extension"]?.arrayValue ?? [] {
                guard let url = item["url"]?.stringValue, url.hasPrefix(PlatformProfiles.base) else { continue }
                guard let profile = byURL[url] else {
                    Issue.record("no profile for \(url)")
                    continue
                }
                #expect(profile["context"]?.arrayValue?.first?["expression"]?.stringValue == path, "\(url) at \(path)")
                let elements = profile["differential"]?["element"]?.arrayValue ?? []
                func valueType(_ id: String) -> String? {
                    elements.first { $0["id"]?.stringValue == id }?["type"]?.arrayValue?.first?["code"]?.stringValue
                }
                func valueKey(_ object: JSONValue) -> String? {
                    object.objectValue?.keys.first { $0.hasPrefix("value") }
                }
                let slices = Set(elements.compactMap { $0["sliceName"]?.stringValue })
                if slices.isEmpty {
                    let type = valueType("Extension.value[x]") ?? ""
                    #expect(valueKey(item) == "value" + type.prefix(1).uppercased() + type.dropFirst(), "\(url)")
                } else {
                    for part in item["extension"]?.arrayValue ?? [] {
                        let name = part["url"]?.stringValue ?? ""
                        #expect(slices.contains(name), "\(url) has no slice \(name)")
                        let type = valueType("Extension.extension:\(name).value[x]") ?? ""
                        #expect(valueKey(part) == "value" + type.prefix(1).uppercased() + type.dropFirst(), "\(url) \(name)")
                    }
                }
            }
        default:
            break
        }
    }
}
