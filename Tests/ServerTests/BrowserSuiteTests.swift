import FixtureSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import Server
#if canImport(Glibc)
import Glibc
#endif

/// The web application in a real headless Chromium (Tests/Browser, Python + selenium + axe-core):
/// the real app on a live HTTP listener, accounts made here the way `medrec user add` makes
/// them (an admin and a billing user; patients and doctors register themselves in the suite),
/// then `python3 Tests/Browser/run.py` as a child process. The browser suite is part of
/// `swift test`: a machine without Chromium, its driver or selenium FAILS here, saying what to
/// install (it never skips).
@Suite(.serialized) struct BrowserSuiteTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    /// What the suite needs on this machine, with what to install for each missing piece.
    static func missingRequirements() -> [String] {
        var missing: [String] = []
        let chromium = ProcessInfo.processInfo.environment["MEDREC_CHROMIUM"] ?? "/usr/bin/chromium"
        let driver = ProcessInfo.processInfo.environment["MEDREC_CHROMEDRIVER"] ?? "/usr/bin/chromedriver"
        if !FileManager.default.isExecutableFile(atPath: chromium) { missing.append("Chromium at \(chromium) (apt-get install chromium)") }
        if !FileManager.default.isExecutableFile(atPath: driver) { missing.append("chromedriver at \(driver) (apt-get install chromium-driver)") }
        if python == nil { missing.append("python3") }
        return missing
    }

    /// The `python3` on PATH first (the one `.ci/run` installs selenium into with `python3 -m pip`).
    static var python: String? {
        let onPath = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/python3" }
        return (onPath + ["/usr/bin/python3", "/usr/local/bin/python3"]).first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `python3 Tests/Browser/run.py <arguments>` without blocking a cooperative thread
    /// (the server under test answers the browser from the same process): see ExternalTool.
    static func runSuite(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONUNBUFFERED"] = "1"
        // selenium-manager must never download a browser or a driver.
        environment["SE_OFFLINE"] = "true"
        let result = try await ExternalTool.run(
            try #require(python), [repository.appendingPathComponent("Tests/Browser/run.py").path] + arguments,
            environment: environment, directory: repository, limit: .seconds(900))
        return (result.status, result.output)
    }

    /// Runs the browser suite's modules whose test ids contain `only` against a fresh app.
    static func browse(only: String) async throws {
        let missing = missingRequirements()
        guard missing.isEmpty else {
            Issue.record("The browser suite needs: \(missing.joined(separator: "; ")), and pip install selenium axe-selenium-python (see .ci/run).")
            return
        }
        try await TestApp.runSecured(testing: .live) { client, _, security in
            let port = try #require(client.port)
            // The accounts no registration form can make, as `medrec user add` makes them.
            let hash = try await security.hasher.hash(Accounts.password)
            for (email, role) in [("admin@browser.example", Principal.Role.admin), ("billing@browser.example", .billing)] {
                let inserted = try await security.identities.insertUser(
                    id: UUID().uuidString.lowercased(), email: email, passwordHash: hash, role: role, status: .active, fhirUser: nil)
                try #require(inserted)
            }
            let filter = ProcessInfo.processInfo.environment["MEDREC_BROWSER_TESTS"].map { "\(only)" + "." + $0 } ?? only
            // Screenshots go to .build/screenshots (untracked), or where MEDREC_SCREENSHOTS says:
            // `MEDREC_SCREENSHOTS=docs/screenshots` refreshes the ones the README shows.
            let screenshots = ProcessInfo.processInfo.environment["MEDREC_SCREENSHOTS"].map {
                $0.hasPrefix("/") ? URL(fileURLWithPath: $0) : Self.repository.appendingPathComponent($0)
            } ?? Self.repository.appendingPathComponent(".build/screenshots")
            let (status, output) = try await Self.runSuite([
                "--base-url", "http://127.0.0.1:\(port)", "--password", Accounts.password,
                "--admin", "admin@browser.example", "--billing", "billing@browser.example",
                "--screenshots", screenshots.path, "--only", filter,
            ])
            #expect(status == 0, "the browser suite (\(only)) failed (exit \(status)):\n\(output)")
        }
    }

    /// Sign-in by keyboard, the cookie's flags, a cross-site post, sign-out across tabs, a
    /// stolen cookie after logout and password change; headers and axe-core on every page.
    @Test func securityInARealBrowser() async throws {
        try await Self.browse(only: "test_security")
    }

    /// Every role's pages (axe-core, headers, screenshots) and the `<script>` name as text.
    @Test func everyPageInARealBrowser() async throws {
        try await Self.browse(only: "test_pages")
    }

    /// The issue's journeys: patient, admin and doctor, billing, and a second patient refused.
    @Test func journeysInARealBrowser() async throws {
        try await Self.browse(only: "test_journeys")
    }
}
