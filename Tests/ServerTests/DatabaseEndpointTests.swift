import Testing
@testable import Server

@Suite struct DatabaseEndpointTests {
    @Test func parsesAFullURL() throws {
        let endpoint = try DatabaseEndpoint(url: "postgres://app:s%40cret@db.example.org:6543/records?sslmode=require")
        #expect(endpoint.host == "db.example.org")
        #expect(endpoint.port == 6543)
        #expect(endpoint.username == "app")
        #expect(endpoint.password == "s@cret")
        #expect(endpoint.database == "records")
        #expect(endpoint.tls == .require)
        #expect(endpoint.unixSocketPath == nil)
    }

    @Test func appliesLibpqDefaults() throws {
        let endpoint = try DatabaseEndpoint(url: "postgresql://medrec@localhost")
        #expect(endpoint.port == 5432)
        #expect(endpoint.database == "medrec")
        #expect(endpoint.password == nil)
        #expect(endpoint.tls == .prefer)
    }

    @Test func readsIPv6HostsAndSocketDirectories() throws {
        let v6 = try DatabaseEndpoint(url: "postgres://u:p@[::1]:5433/d?sslmode=disable")
        #expect(v6.host == "::1")
        #expect(v6.port == 5433)
        #expect(v6.tls == .disable)
        #expect(v6.url == "postgres://u@[::1]:5433/d?sslmode=disable")

        let socket = try DatabaseEndpoint(url: "postgres://u@/d?host=/var/run/postgresql")
        #expect(socket.unixSocketPath == "/var/run/postgresql/.s.PGSQL.5432")
        #expect(socket.clientConfiguration().unixSocketPath == "/var/run/postgresql/.s.PGSQL.5432")
    }

    @Test func printsURLsWithAndWithoutPassword() throws {
        let endpoint = DatabaseEndpoint(
            host: "127.0.0.1", port: 25432, username: "medrec", password: "abc123", database: "medrec", tls: .disable)
        #expect(endpoint.url == "postgres://medrec@127.0.0.1:25432/medrec?sslmode=disable")
        #expect(endpoint.urlIncludingPassword == "postgres://medrec:abc123@127.0.0.1:25432/medrec?sslmode=disable")
        let reparsed = try DatabaseEndpoint(url: endpoint.urlIncludingPassword)
        #expect(reparsed == endpoint)
    }

    @Test func configuresAShortConnectTimeout() throws {
        let endpoint = try DatabaseEndpoint(url: "postgres://u@h/d")
        #expect(endpoint.clientConfiguration().options.connectTimeout == .seconds(3))
        #expect(try DatabaseEndpoint(url: "postgres://u@h/d?connect_timeout=7").connectTimeout == .seconds(7))
    }

    @Test(arguments: [
        "mysql://u@h/d", "postgres://h/d", "postgres://u@h/d?sslmode=bogus", "postgres://u@h:99999/d", "not a url",
        "postgres://u@h/a/b",
    ])
    func refusesInvalidURLsWithoutEchoingThem(url: String) {
        #expect {
            try DatabaseEndpoint(url: url)
        } throws: { error in
            let error = error as? DatabaseError
            return error?.code == .invalidURL && error?.message.hasPrefix("invalid database URL:") == true
        }
    }

    @Test func neverEchoesThePassword() {
        #expect {
            try DatabaseEndpoint(url: "postgres://u:topsecret@h/d?sslmode=nope")
        } throws: { error in
            !"\(error)".contains("topsecret")
        }
    }
}
