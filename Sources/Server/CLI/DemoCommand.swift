import ArgumentParser
import FHIRModels
import Foundation
import Mapping

/// `medrec demo`: data to try the web application with, for local use only (refused when
/// `medrec.mode` is `production`). Imports a few Synthea patients (transaction Bundles, through
/// the same bundle processing and record services as `POST /fhir`, as the operator), then makes
/// a demo doctor (approved, with a specialization and a work schedule, and an Encounter with
/// each imported patient: their care relationship), a demo patient account linked to the first
/// imported patient, a billing user and an admin, and prints their emails and the password.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Load demo data (a few Synthea patients, a demo doctor, patient, billing user and admin). Local use only: refused in production mode.")

    @Argument(help: "A folder of Synthea transaction Bundles (*.json); default ../shared/fixtures/synthea when it exists.")
    var directory: String?

    @Option(help: "How many patients to import (the first files by name).")
    var patients = 3

    @Flag(help: "Read the demo accounts' password from the first line of standard input (default: a generated one, printed).")
    var passwordStdin = false

    @OptionGroup var options: GlobalOptions

    static let defaultDirectory = "../shared/fixtures/synthea"
    static let domain = "demo.medrec.example"
    static func email(_ role: Principal.Role) -> String { "\(role.rawValue)@\(domain)" }

    /// What `medrec demo` refuses before it touches anything.
    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    static func refuseInProduction(_ settings: ServerSettings) throws {
        if settings.mode == .production {
            throw Refused(description: "medrec demo is for local use only: refused in production mode (medrec.mode / MEDREC_MODE is production)")
        }
    }

    func validate() throws {
        guard (1...50).contains(patients) else { throw ValidationError("--patients must be between 1 and 50") }
    }

    func run() async throws {
        let settings = try await options.settings()
        try Self.refuseInProduction(settings)
        let folder = directory ?? Self.defaultDirectory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("\(folder) is not a folder of Synthea bundles (give one as the argument)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".json") }.sorted().prefix(patients)
        guard !files.isEmpty else { throw ValidationError("\(folder) holds no .json bundles") }
        let password: String
        if passwordStdin {
            guard let line = readLine(strippingNewline: true) else { throw ValidationError("no password on standard input") }
            password = line
        } else {
            password = Self.generatedPassword()
        }
        let problems = PasswordPolicy.problems(with: password, email: Self.email(.admin))
        guard problems.isEmpty else { throw ValidationError("password: " + problems.joined(separator: "; ")) }
        let hash = try await PasswordHasher(cost: settings.auth.bcryptCost).hash(password)
        let bundles = try files.map { name in
            (name, try FHIRJSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: folder).appendingPathComponent(name)))))
        }

        let fromStdin = passwordStdin
        try await CLIDatabase.run(options) { database in
            for role in [Principal.Role.admin, .doctor, .patient, .billing] {
                if try await database.identities.credentials(email: Self.email(role)) != nil {
                    throw Refused(description: "the demo data is loaded already (\(Self.email(role)) exists)")
                }
            }
            let security = try await SecurityServices.make(
                settings: settings, client: database.store.client, keyring: database.store.sealer!.keyring, logger: database.logger)
            let platform = PlatformServices(store: database.store, security: security, maxIncluded: settings.limits.maxPageSize)
            let caller = try BulkCLI.operatorCaller()
            var parser = SearchQueryParser(baseURL: "medrec-demo", strict: true, maxCount: settings.limits.maxPageSize)
            parser.sealedContact = database.store.sealedContactSearch
            let processor = BundleProcessor(
                records: platform.records, searches: platform.searches, store: database.store, limits: settings.limits,
                base: "medrec-demo", caller: try await platform.records.confirmed(caller), parser: parser)

            // The Synthea patients, each bundle one transaction.
            var imported: [(id: String, name: String)] = []
            for (file, bundle) in bundles {
                let response = try await processor.process(bundle)
                let locations = (response["entry"]?.arrayValue ?? []).compactMap { $0["response"]?["location"]?.stringValue }
                guard let patient = locations.first(where: { $0.hasPrefix("Patient/") }) else {
                    throw Refused(description: "\(file): the bundle holds no Patient")
                }
                let id = String(patient.split(separator: "/")[1])
                imported.append((id, Self.name(of: bundle) ?? id))
                print("imported \(file): Patient/\(id), \(locations.count) resources")
            }

            // The demo doctor: in the directory, with a schedule, and an Encounter with each patient.
            let doctor = try await platform.doctors.create(
                DoctorDTO(
                    firstName: "Dana", lastName: "Demo", specialization: "General practice", qualifications: ["MD"],
                    workSchedule: [WorkSchedule(daysOfWeek: [.mon, .tue, .wed, .thu, .fri], startTime: "09:00:00", endTime: "17:00:00")]),
                as: caller)
            let doctorID = try Self.id(doctor.model.id)
            let visit = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-7 * 86_400))
            for patient in imported {
                _ = try await platform.appointments.create(
                    AppointmentDTO(
                        patientID: patient.id, doctorID: doctorID, dateTime: visit, reasonForVisit: "Demo: annual review",
                        status: .completed),
                    as: caller)
            }

            // The accounts, as `medrec user add` makes them.
            let accounts: [(Principal.Role, String?)] = [
                (.admin, nil), (.doctor, "Practitioner/\(doctorID)"), (.patient, "Patient/\(imported[0].id)"), (.billing, nil),
            ]
            for (role, fhirUser) in accounts {
                guard try await database.identities.insertUser(
                    id: UUID().uuidString.lowercased(), email: Self.email(role), passwordHash: hash, role: role, status: .active,
                    fhirUser: fhirUser) else {
                    throw Refused(description: "the demo data is loaded already (\(Self.email(role)) exists)")
                }
            }
            print("")
            print("demo accounts (sign in at /app):")
            print("  admin    \(Self.email(.admin))")
            print("  doctor   \(Self.email(.doctor))  Dana Demo, General practice, caring for \(imported.count) patients")
            print("  patient  \(Self.email(.patient))  \(imported[0].name)")
            print("  billing  \(Self.email(.billing))")
            if fromStdin {
                print("password: the one given on standard input")
            } else {
                print("password: \(password)")
            }
        }
    }

    static func id(_ id: String?) throws -> String {
        guard let id else { throw Refused(description: "the service returned no id") }
        return id
    }

    /// "Given Family" of the bundle's Patient, for the summary.
    static func name(of bundle: JSONValue) -> String? {
        guard let patient = (bundle["entry"]?.arrayValue ?? []).first(where: { $0["resource"]?["resourceType"]?.stringValue == "Patient" })?["resource"],
              let name = patient["name"]?.arrayValue?.first else { return nil }
        let given = (name["given"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: " ")
        return [given, name["family"]?.stringValue ?? ""].filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// Four groups of five lowercase letters and digits (about 100 bits).
    static func generatedPassword() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String((0..<5).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }) }
            .joined(separator: "-")
    }
}
