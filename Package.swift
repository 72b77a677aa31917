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
    ],
    dependencies: [
        .package(url: "https://github.com/x-sheep/swift-property-based", exact: "2.0.1"),
    ],
    targets: [
        .target(
            name: "ButlerModel",
            resources: [.copy("Templates")]
        ),
        .target(name: "ButlerClient", dependencies: ["ButlerModel"]),
        .target(name: "ButlerServer", dependencies: ["ButlerModel"]),
        .executableTarget(name: "butler", dependencies: ["ButlerModel", "ButlerClient"]),
        .executableTarget(name: "butler-syncd", dependencies: ["ButlerClient"]),
        .executableTarget(name: "butler-server", dependencies: ["ButlerServer"]),
        .testTarget(
            name: "ButlerModelTests",
            dependencies: [
                "ButlerModel",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
