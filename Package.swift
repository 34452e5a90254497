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
    ],
    targets: [
        // FHIR R4 coding, metadata and validation. Foundation only: no I/O, no server framework.
        .target(name: "FHIRModels"),
        .target(
            name: "Server",
            dependencies: [
                "FHIRModels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "medrec", dependencies: ["Server"]),
        .executableTarget(name: "XMLThroughput", dependencies: ["FHIRModels"], path: "Benchmarks/XMLThroughput"),
        .testTarget(name: "FHIRModelsTests", dependencies: ["FHIRModels"]),
        .testTarget(name: "ServerTests", dependencies: ["Server", "FHIRModels"]),
    ],
    swiftLanguageModes: [.v6]
)
