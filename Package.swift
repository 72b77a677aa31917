// swift-tools-version: 6.1
import PackageDescription

// ButlerSync: an offline-first sync system for property-management butlers.
// ButlerModel is pure Swift (Foundation only) and shared by the client and the server;
// the client and the server never import each other. Executables are thin wrappers.
let package = Package(
    name: "ButlerSync",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "ButlerModel", targets: ["ButlerModel"]),
        .library(name: "ButlerClient", targets: ["ButlerClient"]),
        .library(name: "ButlerServer", targets: ["ButlerServer"]),
        .executable(name: "butler", targets: ["butler"]),
        .executable(name: "butler-syncd", targets: ["butler-syncd"]),
        .executable(name: "butler-server", targets: ["butler-server"]),
        .executable(name: "butler-sim", targets: ["butler-sim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", exact: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", exact: "2.13.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", exact: "2.0.1"),
        .package(url: "https://github.com/vapor/postgres-nio", exact: "1.33.2"),
        // Already built for Hummingbird; named for NIOHTTP1's `HTTPParserError` (a request cut mid-body).
        .package(url: "https://github.com/apple/swift-nio", exact: "2.101.3"),
        // Server-rendered pages: the handheld page (`butler ui`) and the supervisor console (issue 16).
        .package(url: "https://github.com/hummingbird-project/swift-mustache", exact: "2.1.1"),
    ],
    targets: [
        .target(
            name: "ButlerModel",
            resources: [.copy("Templates")]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // zlib's gzip streams: the wire's compression, shared by the client and the server.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(
            name: "ButlerFiles",
            dependencies: ["ButlerModel", "CZlib", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "ButlerClient",
            dependencies: [
                "ButlerModel",
                "ButlerFiles",
                "CCurl",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "ButlerServer",
            dependencies: [
                "ButlerModel",
                "ButlerFiles",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // The supervisor console: its templates and its passwords' scrypt hash.
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            resources: [.copy("Console/Templates")]
        ),
        // The butler's handheld page (`butler ui`): server-rendered pages on 127.0.0.1 over the device store.
        .target(
            name: "ButlerUI",
            dependencies: [
                "ButlerModel", "ButlerClient", "ButlerFiles",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Pages")]
        ),
        .executableTarget(
            name: "butler",
            dependencies: [
                "ButlerModel", "ButlerClient", "ButlerUI", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "butler-syncd",
            dependencies: [
                "ButlerClient", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "butler-server",
            dependencies: ["ButlerServer", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // The tests' and the benchmark's shared machinery: server processes and the command
        // runner, scratch folders and photos, the in-process server and transport, the Cluster
        // fixture. Not a product: nothing outside this package builds on it.
        .target(
            name: "ButlerTestSupport",
            dependencies: [
                "ButlerModel", "ButlerFiles", "ButlerClient", "ButlerServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                // Its router test framework's dependencies (NIOEmbedded's testing channel) make
                // the request context the in-process transport needs.
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The deterministic simulation (issue 14): the whole system in one process from one seed.
        .target(
            name: "ButlerSimulation",
            dependencies: [
                "ButlerModel", "ButlerClient", "ButlerServer", "ButlerTestSupport", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "butler-sim",
            dependencies: ["ButlerSimulation", "ButlerModel", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "butler-bench",
            dependencies: [
                "ButlerModel", "ButlerClient", "ButlerServer", "ButlerTestSupport", "ButlerSimulation",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Benchmarks/Sources/butler-bench"
        ),
        .testTarget(
            name: "ButlerClientTests",
            dependencies: [
                "ButlerClient", "ButlerModel", "ButlerTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ButlerServerTests",
            dependencies: [
                "ButlerServer", "ButlerModel", "ButlerFiles", "ButlerTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "ButlerClient", "ButlerServer", "ButlerModel", "ButlerFiles", "ButlerTestSupport", "ButlerSimulation",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        .testTarget(
            name: "SimulationTests",
            dependencies: ["ButlerSimulation", "ButlerClient", "ButlerModel", "ButlerTestSupport"]
        ),
        .testTarget(
            name: "ButlerUITests",
            dependencies: [
                "ButlerUI", "ButlerClient", "ButlerModel", "ButlerTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "ButlerFilesTests",
            dependencies: ["ButlerFiles", "ButlerModel", "ButlerTestSupport"]
        ),
        .testTarget(
            name: "ButlerModelTests",
            dependencies: [
                "ButlerModel", "ButlerTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
