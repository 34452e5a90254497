import Foundation
import Testing
@testable import Server

/// Which addresses an outbound fetch (JWKS URL, `$import` input) may reach, and the
/// `medrec.outbound.privateNetworks` setting that opens named private networks.
@Suite struct OutboundDestinationTests {
    @Test func onlyPublicAddressesUnlessTheNetworkIsNamed() throws {
        let refused = [
            "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
            "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "198.18.0.1", "192.0.2.10",
            "::", "::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "fe80::1", "fd00::1", "fc12::9",
            "ff02::1", "2001:db8::1", "64:ff9b::a9fe:a9fe",
        ]
        let allowed = ["8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "192.169.0.1", "100.128.0.1", "2606:4700::1111", "2a00:1450::1"]
        for text in refused {
            let address = try #require(IPNetwork.bytes(of: text), "\(text)")
            #expect(!OutboundDestination.allows(address, permitted: []), "\(text) must be refused")
        }
        for text in allowed {
            let address = try #require(IPNetwork.bytes(of: text), "\(text)")
            #expect(OutboundDestination.allows(address, permitted: []), "\(text) is public")
        }
        // A named network opens exactly itself.
        let lan = try #require(IPNetwork("10.20.0.0/16"))
        #expect(OutboundDestination.allows(try #require(IPNetwork.bytes(of: "10.20.7.7")), permitted: [lan]))
        #expect(!OutboundDestination.allows(try #require(IPNetwork.bytes(of: "10.21.0.1")), permitted: [lan]))
        #expect(!OutboundDestination.allows(try #require(IPNetwork.bytes(of: "127.0.0.1")), permitted: [lan]))
        let v6 = try #require(IPNetwork("fd00:12::/32"))
        #expect(OutboundDestination.allows(try #require(IPNetwork.bytes(of: "fd00:12::5")), permitted: [v6]))
        #expect(!OutboundDestination.allows(try #require(IPNetwork.bytes(of: "fd00:13::5")), permitted: [v6]))
    }

    @Test func theSettingParsesRangesAndRefusesNonsense() async throws {
        let settings = try await ServerSettings.load(environment: [
            "MEDREC_OUTBOUND_PRIVATE_NETWORKS": "10.20.0.0/16, fd00:12::/32,192.168.5.7",
            "MEDREC_AUTH_JWKS_URL_ALLOWLIST": "https://keys.example/",
            "MEDREC_BULK_IMPORT_URL_ALLOWLIST": "https://data.example/",
        ])
        let names = ["10.20.0.0/16", "fd00:12::/32", "192.168.5.7"]
        #expect(settings.auth.jwksURLAllowlist.privateNetworks.map(\.description) == names)
        #expect(settings.bulk.importURLAllowlist.privateNetworks.map(\.description) == names)
        for bad in ["10.0.0.0/33", "fd00::/129", "10.0.0", "example.org", "10.0.0.0/8/1", "10.0.0.0/-1", "/8"] {
            await #expect(throws: ServerSettings.Invalid.self, "\(bad)") {
                _ = try await ServerSettings.load(environment: ["MEDREC_OUTBOUND_PRIVATE_NETWORKS": bad])
            }
        }
        #expect(try await ServerSettings.load(environment: [:]).bulk.importURLAllowlist.privateNetworks.isEmpty)
    }

    @Test func literalAddressesAndNamesAreCheckedBeforeAnyFetch() async throws {
        for url in ["http://127.0.0.1:9/x", "http://[::1]:9/x", "http://169.254.169.254/latest", "http://localhost:9/x", "http://[::ffff:10.0.0.1]/"] {
            await #expect(throws: OutboundDestination.Refused.self, "\(url)") {
                try await OutboundDestination.check(try #require(URL(string: url)), permitted: [])
            }
        }
        try await OutboundDestination.check(try #require(URL(string: "http://127.0.0.1:9/x")), permitted: [try #require(IPNetwork("127.0.0.0/8"))])
        try await OutboundDestination.check(try #require(URL(string: "https://93.184.215.14/x")), permitted: [])
    }
}
