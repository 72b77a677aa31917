import Foundation

/// Where the built executables (`butler`, `butler-server`, `butler-syncd`, `butler-bench`) are:
/// `$BUTLER_BIN_DIR`, the folder of the running executable (the test runner or `butler-bench`),
/// or the package's `.build/debug`.
public enum Binaries {
    public static let directory: URL = {
        var candidates: [URL] = []
        if let dir = ProcessInfo.processInfo.environment["BUTLER_BIN_DIR"] { candidates.append(URL(fileURLWithPath: dir)) }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent())
        candidates.append(packageRoot.appendingPathComponent(".build/debug"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("butler-server").path) }
            ?? candidates.last!
    }()

    /// The package's root folder (this file is `Sources/ButlerTestSupport/Binaries.swift`).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The built executable `name`.
    public static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }
}
