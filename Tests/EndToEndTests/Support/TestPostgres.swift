import ButlerTestSupport
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL cluster of one test's own, started by `Tests/postgres.sh` in a folder and on a
/// port nobody else uses: a test that restarts its database must not pull the one every other
/// suite shares from under them.
final class TestPostgres: Sendable {
    let directory: URL
    let port: Int
    /// The database's URL (`postgres://…/butler_test`).
    let url: String
    private let stopped = Mutex(false)

    /// The newest installed PostgreSQL's `bin` folder.
    static let binDirectory: URL? = {
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return versions.sorted { $0.compare($1, options: .numeric) == .orderedAscending }.last
            .map { root.appendingPathComponent($0).appendingPathComponent("bin") }
            .flatMap { FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("pg_ctl").path) ? $0 : nil }
    }()

    private init(directory: URL, port: Int, url: String) {
        self.directory = directory
        self.port = port
        self.url = url
    }

    /// Starts a fresh cluster on a free loopback port (and stops any a killed run left running).
    static func start() async throws -> TestPostgres {
        await sweepLeftovers()
        let directory = URL(fileURLWithPath: "\(folderPrefix)\(getpid())-\(UUID().uuidString.prefix(8))")
        let port = try freePort()
        let script = Binaries.packageRoot.appendingPathComponent("Tests/postgres.sh")
        let result = try await runCommand(
            script, ["start"], environment: ["BUTLER_PG_DIR": directory.path, "BUTLER_PG_PORT": String(port)], timeout: .seconds(120))
        guard result.status == 0, let line = result.stdout.split(separator: "\n").first(where: { $0.contains("BUTLER_TEST_DATABASE_URL=") }),
            let url = line.split(separator: "=", maxSplits: 1).last
        else { throw TestFailure("Tests/postgres.sh start failed: \(result.stderr)") }
        return TestPostgres(directory: directory, port: port, url: String(url))
    }

    /// Clusters are in `/tmp/butler-pg-jepsen-<pid of the test process>-<random>`.
    static let folderPrefix = "/tmp/butler-pg-jepsen-"

    /// Stops and removes the clusters of test processes that are gone.
    static func sweepLeftovers() async {
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []
        for folder in folders where folder.hasPrefix("butler-pg-jepsen-") {
            guard let pid = folder.dropFirst("butler-pg-jepsen-".count).split(separator: "-").first.flatMap({ Int32($0) }),
                pid != getpid(), kill(pid, 0) != 0, errno == ESRCH, let bin = binDirectory
            else { continue }
            let data = "/tmp/\(folder)/data"
            if FileManager.default.fileExists(atPath: "\(data)/postmaster.pid") {
                _ = try? await runCommand(
                    URL(fileURLWithPath: "/usr/sbin/runuser"), ["-u", "postgres", "--", bin.appendingPathComponent("pg_ctl").path, "-D", data, "-m", "immediate", "stop"])
            }
            try? FileManager.default.removeItem(atPath: "/tmp/\(folder)")
        }
    }

    /// Restarts the server the hard way (`pg_ctl restart -m immediate`: no shutdown checkpoint,
    /// crash recovery on start), waiting until it accepts connections again.
    func restart() async throws {
        let result = try await runCommand(
            URL(fileURLWithPath: "/usr/sbin/runuser"),
            ["-u", "postgres", "--", Self.binDirectory!.appendingPathComponent("pg_ctl").path, "-D", directory.appendingPathComponent("data").path,
             "-l", directory.appendingPathComponent("log").path, "-m", "immediate", "-w", "restart"],
            timeout: .seconds(60))
        guard result.status == 0 else {
            let log = (try? String(contentsOf: directory.appendingPathComponent("log"), encoding: .utf8)) ?? ""
            throw TestFailure("pg_ctl restart failed: \(result.stdout) \(result.stderr)\n\(log.split(separator: "\n").suffix(15).joined(separator: "\n"))")
        }
    }

    /// Stops the cluster and removes its folder.
    func stop() async {
        guard stopped.withLock({ done in defer { done = true }; return !done }) else { return }
        let script = Binaries.packageRoot.appendingPathComponent("Tests/postgres.sh")
        _ = try? await runCommand(script, ["stop"], environment: ["BUTLER_PG_DIR": directory.path, "BUTLER_PG_PORT": String(port)])
    }

    deinit {
        guard stopped.withLock({ !$0 }), let bin = Self.binDirectory else { return }
        _ = try? ChildProcess(
            URL(fileURLWithPath: "/usr/sbin/runuser"),
            ["-u", "postgres", "--", bin.appendingPathComponent("pg_ctl").path, "-D", directory.appendingPathComponent("data").path, "-m", "immediate", "stop"],
            captureStdout: false, captureStderr: false)
    }

    /// A TCP port on 127.0.0.1 that nothing listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw TestFailure("bind() failed") }
        let named = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        guard named == 0 else { throw TestFailure("getsockname() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
