import ButlerTestSupport
import Foundation
import Testing

/// Where `schemathesis` is, if installed (Tests/run.sh installs it from PyPI).
enum Schemathesis {
    static let path: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        .map { "\($0)/schemathesis" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Issue 8: property-based fuzzing of the live server from `Protocol/openapi.yaml`.
@Suite(
    "Hostile input: schemathesis against the live server", .serialized,
    .enabled(if: Schemathesis.path != nil, "SKIPPED: schemathesis is not installed (python3 -m pip install schemathesis); Tests/run.sh installs it"))
struct SchemathesisTests {
    @Test("no 5xx, every response as documented, every error a {code, message}")
    func fuzz() async throws {
        // Live pulls answer within 2 s: schemathesis gives up on a reply after 10.
        let cluster = try await Cluster.processes("schemathesis", environment: ["BUTLER_MAX_LIVE_WAIT": "2"])
        let (scratch, server) = (cluster.scratch, cluster.node)
        let token = try await server.addDevice("fuzzer", role: .supervisor, zones: ["east-3"])
        defer { server.terminate() }
        let spec = Binaries.packageRoot.appendingPathComponent("Protocol/openapi.yaml")
        let result = try await runCommand(
            URL(fileURLWithPath: Schemathesis.path!),
            [
                "run", spec.path, "--url", server.url, "-H", "Authorization: Bearer \(token)", "-H", "Butler-Protocol: 1",
                "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--max-examples", "15", "--max-time", "75", "--seed", "20261123", "--workers", "1", "--no-color",
            ],
            currentDirectory: scratch.url,  // its cache stays out of the repository
            timeout: .seconds(300))
        let text = result.stdout + result.stderr
        #expect(result.status == 0, "schemathesis found failures:\n\(text.suffix(6000))")
        print("FAULT-REPORT schemathesis " + (text.split(separator: "\n").first { $0.range(of: "[0-9]+ generated", options: .regularExpression) != nil }.map(String.init) ?? "?"))
        #expect(text.contains("Tested:"), "schemathesis ran: \(text.suffix(2000))")
    }
}
