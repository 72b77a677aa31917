import ButlerTestSupport
import Foundation
import Testing

/// What the browser tests need (issue 16): headless Chromium, chromedriver and python3's selenium,
/// which `Tests/run.sh` installs. Checked without blocking a thread of the cooperative pool (a
/// `waitUntilExit()` there can stall a 2-core run; see ``ChildProcess``).
enum Browser {
    static let chromium = "/usr/bin/chromium"
    static let chromedriver = "/usr/bin/chromedriver"

    /// Whether the browser tests can run here.
    static func available() async -> Bool {
        guard FileManager.default.isExecutableFile(atPath: chromium), FileManager.default.isExecutableFile(atPath: chromedriver) else { return false }
        guard let check = try? await python(["-c", "import selenium"], timeout: .seconds(60)) else { return false }
        return check.status == 0 && !check.signalled
    }

    /// Runs `python3` with `arguments` to completion, at most `timeout`.
    static func python(_ arguments: [String], timeout: Duration = .seconds(180)) async throws -> CommandResult {
        try await runCommand(URL(fileURLWithPath: "/usr/bin/env"), ["python3"] + arguments, timeout: timeout)
    }

    /// Why a browser test did not run.
    static let missing: Comment = "SKIPPED: chromium, chromedriver or python3's selenium is missing; Tests/run.sh installs them"

    /// Copies the PNG screenshots in `screens` where CI keeps artifacts
    /// (`.build/test-artifacts/screens/<folder>`), each name prefixed with `prefix`.
    static func keep(_ screens: URL, in folder: String = "", as prefix: String = "") {
        let artifacts = Binaries.packageRoot.appendingPathComponent(".build/test-artifacts/screens").appendingPathComponent(folder)
        try? FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: screens.path)) ?? [] where name.hasSuffix(".png") {
            let target = artifacts.appendingPathComponent(prefix + name)
            try? FileManager.default.removeItem(at: target)
            try? FileManager.default.copyItem(at: screens.appendingPathComponent(name), to: target)
        }
    }
}
