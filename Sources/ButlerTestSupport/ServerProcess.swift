import ButlerClient
import ButlerModel
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A `butler-server serve` process on loopback (or on `host`: an address of a test network's
/// bridge), on its own data directory (and, through `storeArguments`, on a shared PostgreSQL
/// database and blob folder).
///
/// For what needs a process: SIGKILLs, full disks, a proxy on the network path, the command
/// contract, several nodes. Engine behaviour runs on ``InProcessServer`` instead.
public final class ServerProcess: ServerNode {
    public let data: URL
    /// The address it listens on.
    public let host: String
    /// Arguments every command on this server's store takes (`--database-url …`, `--blobs …`).
    public let storeArguments: [String]
    /// Extra environment for the server (e.g. quota variables).
    public let environment: [String: String]
    private let state: Mutex<(port: Int, child: ChildProcess?)>

    /// A server to start on `host` and `port` (0: any free port; a restart keeps the port it got).
    public init(data: URL, host: String = "127.0.0.1", port: Int = 0, storeArguments: [String] = [], environment: [String: String] = [:]) {
        self.data = data
        self.host = host
        self.storeArguments = storeArguments
        self.environment = environment
        state = Mutex((port, nil))
    }

    /// The port it listens on (0 before the first start).
    public var port: Int { state.withLock { $0.port } }
    public var url: String { "http://\(host):\(port)" }
    /// The server's process id while it runs.
    public var pid: Int32? { state.withLock { $0.child?.isRunning == true ? $0.child?.pid : nil } }

    /// Starts the server and waits until it listens (at most 60 s).
    public func start() async throws {
        var env = environment
        env["BUTLER_LOG_LEVEL"] = env["BUTLER_LOG_LEVEL"] ?? "warning"
        let child = try ChildProcess(
            Binaries.url("butler-server"), ["serve", "--data", data.path, "--host", host, "--port", String(port)] + storeArguments,
            environment: env)
        state.withLock { $0.child = child }
        guard let output = child.stdout, await output.wait(for: "listening on", within: .seconds(60), unless: { !child.isRunning }) else {
            throw TestFailure("butler-server did not start listening within 60 s")
        }
        guard let line = output.text.split(separator: "\n").first(where: { $0.contains("listening on") }),
            let port = Int(line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "")
        else {
            if let exit = child.exitIfEnded { throw TestFailure("butler-server exited with \(exit.status) before listening") }
            throw TestFailure("butler-server printed no port: \(output.text)")
        }
        state.withLock { $0.port = port }
    }

    /// What the current (or last) run printed: stdout, then the log lines on stderr (warnings
    /// and errors, with the error behind any 500). For a failure message.
    public var log: String {
        guard let child = state.withLock({ $0.child }) else { return "" }
        return (child.stdout?.text ?? "") + (child.stderr?.text ?? "")
    }

    /// SIGTERM and wait: a graceful stop.
    public func stop() async {
        await state.withLock { $0.child }?.stop(SIGTERM)
    }

    /// SIGKILL and wait: a crash.
    public func kill() async {
        await state.withLock { $0.child }?.stop(SIGKILL)
    }

    /// SIGTERM without waiting, for a `defer` (which cannot await): the server exits on its own.
    public func terminate() {
        state.withLock { $0.child }?.signal(SIGTERM)
    }

    /// Registers a device through `butler-server device add` on this server's store; returns its token.
    public func addDevice(_ name: String, role: DeviceRole = .butler, zones: [String] = ["east-3"]) async throws -> String {
        let result = try await runCommand(
            "butler-server", ["device", "add", "--data", data.path, "--name", name, "--role", role.rawValue, "--zones", zones.joined(separator: ",")] + storeArguments)
        guard result.status == 0 else { throw TestFailure("device add failed: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The refusals the server keeps pending for `device`, from `butler-server device list --json`.
    public func pendingRefusals(_ device: String) async throws -> [JSONValue] {
        let result = try await runCommand("butler-server", ["device", "list", "--data", data.path, "--json"] + storeArguments)
        guard result.status == 0 else { throw TestFailure("device list failed: \(result.stderr)") }
        let entry = try JSONParser.parse(result.stdout).arrayValue?.first { $0["name"]?.stringValue == device }
        return entry?["pendingRefusals"]?.arrayValue ?? []
    }

    /// Revokes a device through `butler-server device revoke`.
    public func revokeDevice(_ name: String) async throws {
        let result = try await runCommand("butler-server", ["device", "revoke", "--data", data.path, name] + storeArguments)
        guard result.status == 0 else { throw TestFailure("device revoke failed: \(result.stderr)") }
    }

    /// A libcurl transport to this server (following its port across restarts).
    public func transport(token: String) -> any SyncTransport {
        ServerProcessTransport(server: self, token: token)
    }
}

/// A libcurl transport that always talks to the server's current port (a restart on port 0 may
/// get another one), with short timeouts so a killed server is noticed quickly.
struct ServerProcessTransport: ForwardingTransport {
    let server: ServerProcess
    let token: String

    var base: any SyncTransport { transport() }

    func transport() -> CurlTransport {
        var config = CurlTransport.Configuration(baseURL: server.url, token: token)
        config.connectTimeout = .seconds(1)
        config.requestTimeout = .seconds(10)
        return CurlTransport(configuration: config)
    }
}
