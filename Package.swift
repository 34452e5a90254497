// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "medical-records",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "medrec", targets: ["medrec"]),
        .library(name: "FHIRModels", targets: ["FHIRModels"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        // gzip for bulk files (chunks at rest, downloads, gzip import inputs).
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        // The web face's templates (Sources/Server/Resources/web/templates).
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        // The replicas' /metrics (Prometheus text format) on their own listener (ServerMetrics).
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        // Tracing (off by default, MEDREC_TRACING): spans through swift-distributed-tracing,
        // exported over OTLP/HTTP by swift-otel (its gRPC exporter is not built).
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        // FHIR R4 coding, metadata and validation. Foundation only: no I/O, no server framework.
        .target(name: "FHIRModels"),
        // The platform models (Patient, Doctor, …) and their pure two-way mapping to FHIR. No I/O.
        .target(name: "Mapping", dependencies: ["FHIRModels"]),
        .target(
            name: "Server",
            dependencies: [
                "FHIRModels", "Mapping",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ],
            // The platform API's documents, served at /openapi.json and /docs (APIDocuments); the
            // one copy of each, written by scripts/generate-openapi.py and scripts/render-api-docs.py.
            // The web face's templates and static files (Resources/web), read once at start.
            resources: [.copy("Resources/openapi.json"), .copy("Resources/api.html"), .copy("Resources/web")]
        ),
        .executableTarget(name: "medrec", dependencies: ["Server"]),
        // Release-mode throughput of the FHIR codecs: scripts/bench-codecs.sh.
        .executableTarget(name: "FHIRCodecBenchmark", dependencies: ["FHIRModels"], path: "Benchmarks/FHIRCodecBenchmark"),
        // Release-mode cost of the platform mapping per resource (issue 14's measurement).
        .executableTarget(name: "MappingBenchmark", dependencies: ["FHIRModels", "Mapping"], path: "Benchmarks/MappingBenchmark"),
        // The stack's ceiling for scripts/bench.sh: one primary-key read of a jsonb row through the
        // same Hummingbird + postgres-nio stack and pool configuration as `medrec serve`.
        .executableTarget(
            name: "StackCeiling",
            dependencies: [
                "Server",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/StackCeiling"),
        // The one helper through which tests find their fixtures: MEDREC_FIXTURES, ../shared/fixtures
        // (the full set) or Tests/Fixtures (the vendored subset; no target's folder, so no target's source).
        .target(name: "FixtureSupport", path: "Tests/FixtureSupport"),
        .testTarget(name: "FHIRModelsTests", dependencies: ["FHIRModels", "FixtureSupport"]),
        .testTarget(
            name: "MappingTests",
            dependencies: [
                "Mapping", "FHIRModels", "FixtureSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server", "FHIRModels", "Mapping", "FixtureSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                // BackendServicesTests sign client assertions with RSA and P-384 keys.
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
