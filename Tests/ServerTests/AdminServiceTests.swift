import FHIRModels
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server

/// `AdminService`, `StatusService` and the audit trail's filters, called as the web pages call
/// them: the caller is confirmed as an administrator in the service (whatever the route
/// said), every call is audited, refusals are typed and change nothing.
@Suite struct AdminServiceTests {
    /// A browser-session caller for an account (the web face's way in).
    static func caller(_ security: SecurityServices, _ email: String) async throws -> Caller {
        let session = try await SessionService(security: security).signIn(email: email, password: Accounts.password, clientAddress: "192.0.2.7")
        return try #require(try await SessionService(security: security).webCaller(session, clientAddress: "192.0.2.7"))
    }

    @Test func onlyAdministratorsAreServedAndEveryRefusalIsAudited() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let accounts = Accounts(client: client, security: security)
            _ = try await accounts.patient("pat@admin.example")
            let pending = try await accounts.register(email: "doc@admin.example", role: "doctor")
            let doctorID = try #require(try pending.json["id"]?.stringValue)
            let patient = try await Self.caller(security, "pat@admin.example")
            let service = AdminService(security: security)
            let attempts: [@Sendable () async throws -> Void] = [
                { _ = try await service.users(after: nil, limit: 10, as: patient) },
                { _ = try await service.user(id: doctorID, as: patient) },
                { _ = try await service.approve(userID: doctorID, as: patient) },
                { _ = try await service.disable(userID: doctorID, as: patient) },
                { _ = try await service.changeRole(userID: doctorID, to: .admin, fhirUser: nil, as: patient) },
                { _ = try await service.clients(as: patient) },
                { _ = try await service.createClient(name: "x", scopes: "system/*.rs", as: patient) },
                { _ = try await StatusService(security: security).report(as: patient) },
            ]
            for attempt in attempts {
                await #expect(throws: AccessDenied.self) { try await attempt() }
            }
            #expect(try await security.identities.user(id: doctorID)?.status == .pending)
            #expect(try await security.identities.clients().count == 1, "only the test suite's own client")
            #expect(try await WebSessionTests.count("agent_role = 'patient' AND outcome = '4' AND outcome_desc = 'denied: role'", endpoint) == attempts.count)
        }
    }

    @Test func approveDisableAndRoleChangeAreAuditedAndEndSessions() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let accounts = Accounts(client: client, security: security)
            let adminSession = try await accounts.admin("root@admin.example")
            let admin = try await Self.caller(security, "root@admin.example")
            let ivy = try await accounts.patient("ivy@admin.example")
            let pending = try await accounts.register(email: "doc@admin.example", role: "doctor")
            let doctorID = try #require(try pending.json["id"]?.stringValue)
            let service = AdminService(security: security)

            let doctors = try await service.users(after: nil, limit: 10, status: .pending, role: .doctor, as: admin)
            #expect(doctors.users.map(\.id) == [doctorID])
            #expect(try await service.approve(userID: doctorID, as: admin).status == .active)
            await #expect(throws: AdminService.Refused.notPending) { try await service.approve(userID: doctorID, as: admin) }
            #expect(try await accounts.login(email: "doc@admin.example").status == .ok)
            await #expect(throws: AdminService.Refused.ownAccount) { try await service.disable(userID: adminSession.userID, as: admin) }
            await #expect(throws: AdminService.Refused.unknownUser) { try await service.disable(userID: "no-such-user", as: admin) }

            // A doctor role needs a Practitioner link; billing needs none, and ends Ivy's sessions.
            await #expect(throws: AdminService.Refused.invalid([.init(field: "fhirUser", issue: "a doctor account must link to a Practitioner")])) {
                try await service.changeRole(userID: ivy.userID, to: .doctor, fhirUser: nil, as: admin)
            }
            await #expect(throws: AdminService.Refused.self) { try await service.changeRole(userID: ivy.userID, to: .system, fhirUser: nil, as: admin) }
            #expect(try await service.changeRole(userID: ivy.userID, to: .billing, fhirUser: nil, as: admin).role == .billing)
            #expect(try await client.send(.get, "/auth/me", headers: ivy.headers).status == .unauthorized)
            #expect(try await service.disable(userID: doctorID, as: admin).status == .disabled)
            #expect(try await accounts.login(email: "doc@admin.example").status == .forbidden)

            // Paging: two at a time, every account once.
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await service.users(after: cursor, limit: 2, as: admin)
                seen += page.users.map(\.id)
                cursor = page.next
            } while cursor != nil
            #expect(seen.count == 3 && Set(seen).count == 3)
            await #expect(throws: AdminService.Refused.self) { try await service.users(after: nil, limit: 0, as: admin) }

            let admins = try await AuditTrail.events(agent: adminSession.userID, endpoint: endpoint)
            let descriptions = admins.compactMap { $0["outcomeDesc"]?.stringValue }
            #expect(descriptions.contains("approved") && descriptions.contains("disabled") && descriptions.contains("role changed to billing"))
            #expect(try await WebSessionTests.count("agent_role = 'admin' AND query = 'user=\(doctorID)' AND outcome_desc = 'approved'", endpoint) == 1)
        }
    }

    @Test func clientsAreCreatedWithASecretShownOnceAndRevoked() async throws {
        try await TestApp.runSecured { client, endpoint, security in
            let accounts = Accounts(client: client, security: security)
            _ = try await accounts.admin("root@admin.example")
            let admin = try await Self.caller(security, "root@admin.example")
            let service = AdminService(security: security)
            await #expect(throws: AdminService.Refused.invalid([
                .init(field: "name", issue: "is required"), .init(field: "scopes", issue: "must be SMART system/ scopes only, e.g. system/*.rs"),
            ])) { try await service.createClient(name: " ", scopes: "user/*.rs", as: admin) }
            let created = try await service.createClient(name: "Lab feed", scopes: "system/Patient.rs", as: admin)
            #expect(created.secret.count >= 32)
            let listed = try await service.clients(as: admin)
            #expect(listed.contains { $0.id == created.id && $0.name == "Lab feed" && !$0.revoked })
            // The secret works, then the client is revoked and its token stops at once.
            let basic = Data("\(created.id):\(created.secret)".utf8).base64EncodedString()
            let issued = try await client.send(.post, "/auth/token", headers: [
                .contentType: "application/x-www-form-urlencoded", .authorization: "Basic \(basic)",
            ], body: Array("grant_type=client_credentials".utf8))
            let token = try #require(try issued.json["access_token"]?.stringValue)
            #expect(try await client.send(.get, "/fhir/Patient", headers: [.authorization: "Bearer \(token)"]).status == .ok)
            try await service.revokeClient(id: created.id, as: admin)
            #expect(try await client.send(.get, "/fhir/Patient", headers: [.authorization: "Bearer \(token)"]).status == .unauthorized)
            await #expect(throws: AdminService.Refused.unknownClient) { try await service.revokeClient(id: created.id, as: admin) }
            // Audited by id; the secret is nowhere in the audit log.
            #expect(try await WebSessionTests.count("query = 'client=\(created.id)' AND outcome_desc IN ('client created', 'client revoked')", endpoint) == 2)
            #expect(try await WebSessionTests.count("coalesce(query, '') || coalesce(outcome_desc, '') LIKE '%\(created.secret)%'", endpoint) == 0)
        }
    }

    @Test func theAuditTrailFiltersByKindOutcomeAndTime() async throws {
        try await TestApp.runSecured { client, _, security in
            let accounts = Accounts(client: client, security: security)
            _ = try await accounts.admin("root@admin.example")
            let ivy = try await accounts.patient("ivy@admin.example")
            _ = try await accounts.login(email: "ivy@admin.example", password: "not the password")
            let admin = try await Self.caller(security, "root@admin.example")
            let trail = AuditTrailService(security: security)
            let logins = try await trail.searchRecords(.init(agent: ivy.userID, count: 50, subtype: "login"), as: admin)
            #expect(logins.records.count == 2)
            #expect(logins.records.allSatisfy { $0.subtype == "login" })
            let failed = try await trail.searchRecords(.init(agent: ivy.userID, count: 50, subtype: "login", outcome: .failure), as: admin)
            #expect(failed.records.count == 1 && failed.records[0].outcome != .success)
            let succeeded = try await trail.searchRecords(.init(agent: ivy.userID, count: 50, outcome: .success), as: admin)
            #expect(succeeded.records.allSatisfy { $0.outcome == .success } && !succeeded.records.isEmpty)
            let later = try await trail.searchRecords(.init(agent: ivy.userID, count: 50, since: Date().addingTimeInterval(3600)), as: admin)
            #expect(later.records.isEmpty)
            let earlier = try await trail.searchRecords(.init(agent: ivy.userID, count: 50, until: Date().addingTimeInterval(-3600)), as: admin)
            #expect(earlier.records.isEmpty)
            let window = try await trail.searchRecords(
                .init(agent: ivy.userID, count: 50, since: Date().addingTimeInterval(-3600), until: Date().addingTimeInterval(60)), as: admin)
            #expect(window.records.count >= 2)
            // The same filters through the FHIR-shaped search.
            #expect(try await trail.search(.init(agent: ivy.userID, count: 50, subtype: "login"), as: admin).events.count == 2)
        }
    }

    @Test func theStatusReportNamesKeysButNeverTheirMaterial() async throws {
        let material = Keyring.randomKeyMaterial()
        let keyring = try Keyring(
            keys: [(id: "old-key", material: Keyring.randomKeyMaterial()), (id: "status-key", material: material)],
            blindIndexKey: Keyring.randomKeyMaterial())
        try await TestApp.runSecured(sealer: FieldSealer(policy: .standard, keyring: keyring)) { client, _, security in
            _ = try await Accounts(client: client, security: security).admin("root@admin.example")
            let admin = try await Self.caller(security, "root@admin.example")
            let report = try await StatusService(security: security).report(as: admin)
            #expect(report.version == MedrecVersion.current)
            #expect(report.databaseReachable && report.databaseVersion?.isEmpty == false)
            #expect(report.keyIDs == ["old-key", "status-key"] && report.activeKeyID == "status-key")
            #expect(report.jobs?.map { $0.status } == ["queued", "running", "completed", "failed", "cancelled"])
            #expect((report.auditLastHour?.total ?? 0) >= 1, "the admin's sign-in")
            #expect(!String(describing: report).contains(Data(material).base64EncodedString()))
        }
    }
}
