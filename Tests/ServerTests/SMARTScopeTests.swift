import Testing
@testable import Server

@Suite struct SMARTScopeTests {
    struct Valid: Sendable, CustomStringConvertible {
        let text: String
        let context: SMARTScope.Context
        let resourceType: String?
        let permissions: Set<SMARTPermission>
        let canonical: String
        var description: String { text }
    }

    static let valid: [Valid] = [
        Valid(text: "patient/*.rs", context: .patient, resourceType: nil, permissions: [.read, .search], canonical: "patient/*.rs"),
        Valid(
            text: "user/Observation.cruds", context: .user, resourceType: "Observation",
            permissions: Set(SMARTPermission.allCases), canonical: "user/Observation.cruds"),
        Valid(text: "system/*.read", context: .system, resourceType: nil, permissions: [.read, .search], canonical: "system/*.rs"),
        Valid(
            text: "patient/Patient.write", context: .patient, resourceType: "Patient",
            permissions: [.create, .update, .delete], canonical: "patient/Patient.cud"),
        Valid(text: "user/*.*", context: .user, resourceType: nil, permissions: Set(SMARTPermission.allCases), canonical: "user/*.cruds"),
        Valid(text: "patient/Observation.r", context: .patient, resourceType: "Observation", permissions: [.read], canonical: "patient/Observation.r"),
        Valid(text: "user/Encounter.cd", context: .user, resourceType: "Encounter", permissions: [.create, .delete], canonical: "user/Encounter.cd"),
        Valid(text: "system/Claim.s", context: .system, resourceType: "Claim", permissions: [.search], canonical: "system/Claim.s"),
    ]

    @Test(arguments: valid)
    func parsesValidScopes(_ row: Valid) throws {
        let scope = try #require(SMARTScope(parsing: row.text))
        #expect(scope.context == row.context)
        #expect(scope.resourceType == row.resourceType)
        #expect(scope.permissions == row.permissions)
        #expect(scope.text == row.canonical)
        #expect(SMARTScope(parsing: scope.text) == scope)
    }

    @Test(arguments: [
        "patient/Foo.rs",  // unknown resource type
        "patient/observation.rs",  // resource types are case-sensitive
        "patient/*.sr",  // v2 letters out of order
        "patient/*.rr",  // repeated letter
        "patient/*.crudss",
        "patient/*.x",
        "patient/*.",  // no permissions
        "patient/*",
        "patient/.rs",
        "patient*.rs",
        "admin/*.rs",  // unknown context
        "Patient/*.rs",
        "patient/*.readwrite",
        "patient/*.rs ",
        "patient/Observation.rs?category=laboratory",  // v2 query suffix: unsupported
        "",
    ])
    func rejectsMalformedScopes(_ text: String) {
        #expect(SMARTScope(parsing: text) == nil)
    }

    @Test func scopeSetSeparatesResourceScopesFromTheRest() throws {
        let set = try ScopeSet(parsing: "openid fhirUser  launch/patient patient/*.read offline_access patient/*.rs")
        #expect(set.scopes == [SMARTScope(context: .patient, resourceType: nil, permissions: [.read, .search])])
        #expect(set.otherScopes == ["openid", "fhirUser", "launch/patient", "offline_access"])
        #expect(set.text == "patient/*.rs openid fhirUser launch/patient offline_access")
        #expect(try ScopeSet(parsing: "").scopes.isEmpty)
    }

    @Test(arguments: ["openid patient/Foo.rs", "user/*.rx", "system/Observation.rs?code=1234", "patient/*"])
    func scopeSetRejectsMalformedResourceScopes(_ text: String) {
        #expect(throws: ScopeError.self) { try ScopeSet(parsing: text) }
    }

    @Test func readDoesNotImplySearchNorSearchRead() throws {
        let readOnly = try ScopeSet(parsing: "patient/Observation.r")
        #expect(readOnly.grants(.read, on: "Observation", in: [.patient]))
        #expect(!readOnly.grants(.search, on: "Observation", in: [.patient]))
        #expect(!readOnly.grants(.read, on: "Patient", in: [.patient]))

        let searchOnly = try ScopeSet(parsing: "patient/*.s")
        #expect(searchOnly.grants(.search, on: "Condition", in: [.patient]))
        #expect(!searchOnly.grants(.read, on: "Condition", in: [.patient]))
    }

    @Test func grantsOnlyInTheAskedContexts() throws {
        let set = try ScopeSet(parsing: "user/*.cruds")
        #expect(set.grants(.update, on: "Observation", in: [.user, .system]))
        #expect(!set.grants(.update, on: "Observation", in: [.patient]))
        #expect(!set.grants(.read, on: "Observation", in: []))
    }

    struct Narrowing: Sendable, CustomStringConvertible {
        let requested: String
        let ceiling: String
        let expected: String
        var description: String { "\(requested) within \(ceiling)" }
    }

    @Test(arguments: [
        Narrowing(
            requested: "openid offline_access patient/*.cruds", ceiling: "patient/*.rs openid fhirUser",
            expected: "patient/*.rs openid"),
        Narrowing(requested: "user/*.rs", ceiling: "user/Observation.r user/Patient.rs", expected: "user/Observation.r user/Patient.rs"),
        Narrowing(requested: "user/Observation.cruds", ceiling: "user/*.rs", expected: "user/Observation.rs"),
        Narrowing(requested: "system/*.rs", ceiling: "user/*.cruds", expected: ""),
        Narrowing(requested: "user/Observation.cu", ceiling: "user/*.rs", expected: ""),
        Narrowing(requested: "user/*.rs user/Observation.r", ceiling: "user/*.cruds", expected: "user/*.rs"),
        Narrowing(
            requested: "user/*.cruds", ceiling: "user/*.r user/Claim.cruds", expected: "user/*.r user/Claim.cruds"),
    ])
    func narrowsToTheCeiling(_ row: Narrowing) throws {
        let narrowed = try ScopeSet(parsing: row.requested).narrowed(to: ScopeSet(parsing: row.ceiling))
        #expect(narrowed.text == row.expected)
    }

    /// Whatever the inputs, the narrowed set grants exactly what both sets grant.
    @Test func narrowedGrantsTheIntersection() throws {
        let sets = try [
            "patient/*.rs user/Observation.cruds",
            "patient/Observation.r patient/Patient.s user/*.cu",
            "user/*.read system/Claim.cruds patient/*.write",
            "user/Patient.rs user/Observation.d patient/*.*",
        ].map(ScopeSet.init(parsing:))
        let types = ["Observation", "Patient", "Claim", "Encounter"]
        for requested in sets {
            for ceiling in sets {
                let narrowed = requested.narrowed(to: ceiling)
                for context in SMARTScope.Context.allCases {
                    for type in types {
                        for permission in SMARTPermission.allCases {
                            let both =
                                requested.grants(permission, on: type, in: [context])
                                && ceiling.grants(permission, on: type, in: [context])
                            #expect(
                                narrowed.grants(permission, on: type, in: [context]) == both,
                                "\(requested.text) within \(ceiling.text): \(context) \(type) \(permission)")
                        }
                    }
                }
            }
        }
    }
}
