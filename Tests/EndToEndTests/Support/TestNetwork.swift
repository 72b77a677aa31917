import ButlerTestSupport
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A network the test builds for itself (needs root, as in CI): a bridge in the root namespace
/// carrying one address per server node, and one network namespace per client, joined to the
/// bridge by a veth pair. Nothing else is touched: the servers listen on the bridge's addresses
/// only, and the clients see nothing but the bridge.
///
/// ```
///  root namespace                           client namespaces
///  butler-server node0 ─ 10.213.N.2 ┐       ┌ eth0 10.213.N.10  butler --home c0 …
///  butler-server node1 ─ 10.213.N.3 ┴ bridge ┼ eth0 10.213.N.11  butler --home c1 …
///                                           └ …
/// ```
///
/// A client reaches the server as `http://butler-node:PORT`; which node that is, is the client's
/// own `/etc/hosts` (`ip netns exec` mounts `/etc/netns/NS/hosts` over it), so a client can be
/// moved to the other node between commands, as a handheld behind a load balancer would be.
///
/// Faults, each undone by ``heal(client:)``:
/// - a partition between a client and a node: a blackhole route (connections fail at once) or a
///   neighbour entry pointing nowhere (packets vanish: connections time out, a transfer stalls);
/// - a degraded link: latency with jitter and packet loss with `tc netem` where the kernel has it;
///   otherwise (netem is a module some kernels lack) a token-bucket slow link (`tc tbf`) and
///   random loss with nftables.
final class TestNetwork: Sendable {
    /// The host name clients use for the server.
    static let serverName = "butler-node"

    let prefix: String
    let subnet: String
    let clients: Int
    let nodes: Int
    private let madeNetnsFolder: Bool
    /// What the kernel offers for degraded links (found once the network is built).
    private let offers = Mutex((netem: false, nftables: false))
    /// Whether `tc netem` works here (otherwise: `tbf` and nftables).
    var netem: Bool { offers.withLock { $0.netem } }
    var nftables: Bool { offers.withLock { $0.nftables } }
    /// The faults in place on each client's link, so healing undoes only those (every command
    /// spawned is one more chance for swift-corelibs-foundation's intermittent crash in
    /// `Process.run()`, swiftlang/swift-corelibs-foundation#5472).
    private let applied = Mutex([Int: Applied]())

    struct Applied {
        var blackholes: Set<Int> = []
        var silent: Set<Int> = []
        var queues = false
        var lossRules = false
    }
    private let removed = Mutex(false)

    var bridge: String { "\(prefix)br" }
    func namespace(_ client: Int) -> String { "\(prefix)c\(client)" }
    func veth(_ client: Int) -> String { "\(prefix)v\(client)" }
    func nodeAddress(_ node: Int) -> String { "\(subnet).\(2 + node)" }
    func clientAddress(_ client: Int) -> String { "\(subnet).\(10 + client)" }

    // MARK: availability

    static let ip = executable("ip")
    static let tc = executable("tc")
    static let nft = executable("nft")

    static func executable(_ name: String) -> URL? {
        ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map { URL(fileURLWithPath: "\($0)/\(name)") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Why this machine cannot build the network, or nil when it can: not root, no iproute2, or
    /// `ip netns add` refused (a container without the capability).
    static let unavailable: String? = {
        guard getuid() == 0 else { return "not root: network namespaces need root (CI runs as root)" }
        guard let ip, tc != nil else { return "iproute2 (ip, tc) is not installed" }
        let probe = "bjprobe\(getpid() % 100_000)"
        guard run(ip, ["netns", "add", probe]) else { return "`ip netns add` is not permitted here" }
        _ = run(ip, ["netns", "del", probe])
        return nil
    }()

    /// Runs a command to its end, blocking: only for the probes, which run once, before any test.
    private static func run(_ url: URL, _ arguments: [String]) -> Bool {
        guard let exit = ChildProcess.runBlocking(url, arguments) else { return false }
        return exit.status == 0 && !exit.signalled
    }

    // MARK: building and removing

    private init(prefix: String, subnet: String, clients: Int, nodes: Int, madeNetnsFolder: Bool) {
        self.prefix = prefix
        self.subnet = subnet
        self.clients = clients
        self.nodes = nodes
        self.madeNetnsFolder = madeNetnsFolder
    }

    /// Builds the network, runs `body`, and removes everything it made — namespaces, veths, the
    /// bridge, the hosts files — whether `body` returns or throws.
    static func with<T: Sendable>(clients: Int, nodes: Int, _ body: (TestNetwork) async throws -> T) async throws -> T {
        let network = try await create(clients: clients, nodes: nodes)
        do {
            let result = try await body(network)
            await network.remove()
            return result
        } catch {
            await network.remove()
            throw error
        }
    }

    private static func create(clients: Int, nodes: Int) async throws -> TestNetwork {
        await sweepLeftovers()
        // Named after this process, so a later run can tell a leftover of a killed run.
        let prefix = "bjp\(getpid())-"
        // A /24 of 10.213.0.0/16 that no interface uses yet.
        let used = try await Self.ip(["-4", "-o", "addr", "show"]).stdout
        guard let third = (100..<200).shuffled().first(where: { !used.contains("10.213.\($0).") }) else {
            throw TestFailure("no free 10.213.x.0/24 for the test network")
        }
        let netnsFolder = URL(fileURLWithPath: "/etc/netns")
        let madeFolder = !FileManager.default.fileExists(atPath: netnsFolder.path)
        let network = TestNetwork(prefix: prefix, subnet: "10.213.\(third)", clients: clients, nodes: nodes, madeNetnsFolder: madeFolder)
        do {
            try await network.build()
            // What the kernel offers for degraded links, tried on the first client's link.
            let netem = try await network.inside(0, tc!, ["qdisc", "add", "dev", "eth0", "root", "netem", "delay", "1ms"]).status == 0
            if netem { _ = try await network.inside(0, tc!, ["qdisc", "del", "dev", "eth0", "root"]) }
            var nftables = false
            if let nft {
                nftables = try await network.inside(0, nft, ["add", "table", "inet", "butlerprobe"]).status == 0
                _ = try await network.inside(0, nft, ["delete", "table", "inet", "butlerprobe"])
            }
            network.offers.withLock { $0 = (netem, nftables) }
            return network
        } catch {
            await network.remove()
            throw error
        }
    }

    /// Removes what runs killed before they could clean up left behind: namespaces, bridges and
    /// hosts folders named `bjp<pid>-…` whose process is gone.
    private static func sweepLeftovers() async {
        func orphaned(_ name: Substring) -> Bool {
            guard name.hasPrefix("bjp"), let dash = name.firstIndex(of: "-"), let pid = Int32(name[name.index(name.startIndex, offsetBy: 3)..<dash])
            else { return false }
            return pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH
        }
        let namespaces = (try? await ip(["netns", "list"]).stdout) ?? ""
        for line in namespaces.split(separator: "\n") {
            guard let name = line.split(separator: " ").first, orphaned(name) else { continue }
            _ = try? await ip(["netns", "del", String(name)])
            try? FileManager.default.removeItem(atPath: "/etc/netns/\(name)")
        }
        let links = (try? await ip(["-o", "link", "show", "type", "bridge"]).stdout) ?? ""
        for line in links.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 1 else { continue }
            let name = fields[1].split(separator: ":").first ?? ""
            if orphaned(name) { _ = try? await ip(["link", "del", String(name)]) }
        }
    }

    private func build() async throws {
        try await Self.ipOK(["link", "add", bridge, "type", "bridge"])
        try await Self.ipOK(["link", "set", bridge, "up"])
        for node in 0..<nodes { try await Self.ipOK(["addr", "add", "\(nodeAddress(node))/24", "dev", bridge]) }
        for client in 0..<clients {
            let ns = namespace(client)
            let peer = "\(prefix)p\(client)"
            try await Self.ipOK(["netns", "add", ns])
            try await Self.ipOK(["link", "add", veth(client), "type", "veth", "peer", "name", peer])
            try await Self.ipOK(["link", "set", peer, "netns", ns])
            try await Self.ipOK(["link", "set", veth(client), "master", bridge, "up"])
            try await Self.ipOK(["-n", ns, "link", "set", peer, "name", "eth0"])
            try await Self.ipOK(["-n", ns, "addr", "add", "\(clientAddress(client))/24", "dev", "eth0"])
            try await Self.ipOK(["-n", ns, "link", "set", "eth0", "up"])
            try await Self.ipOK(["-n", ns, "link", "set", "lo", "up"])
            try point(client, at: client % nodes)
        }
    }

    /// Removes everything the network made; safe to call twice.
    func remove() async {
        guard removed.withLock({ done in defer { done = true }; return !done }) else { return }
        for client in 0..<clients {
            _ = try? await Self.ip(["netns", "del", namespace(client)])  // takes its end of the veth, so the pair, with it
            _ = try? await Self.ip(["link", "del", veth(client)])
            try? FileManager.default.removeItem(atPath: "/etc/netns/\(namespace(client))")
        }
        _ = try? await Self.ip(["link", "del", bridge])
        if madeNetnsFolder { _ = try? FileManager.default.removeItem(atPath: "/etc/netns") }
    }

    deinit {
        // Removed already unless a test threw past `with`; then start the removal without waiting.
        guard let ip = Self.ip, removed.withLock({ !$0 }) else { return }
        for client in 0..<clients {
            _ = try? ChildProcess(ip, ["netns", "del", namespace(client)], captureStdout: false, captureStderr: false)
            try? FileManager.default.removeItem(atPath: "/etc/netns/\(namespace(client))")
        }
        _ = try? ChildProcess(ip, ["link", "del", bridge], captureStdout: false, captureStderr: false)
    }

    // MARK: running inside

    /// The command line that runs `executable` inside the client's namespace.
    func command(_ client: Int, _ executable: URL, _ arguments: [String]) -> (URL, [String]) {
        (Self.ip!, ["netns", "exec", namespace(client), executable.path] + arguments)
    }

    /// Runs `executable` inside the client's namespace to its end.
    func inside(_ client: Int, _ executable: URL, _ arguments: [String], timeout: Duration = .seconds(30)) async throws -> CommandResult {
        let (url, args) = command(client, executable, arguments)
        return try await runCommand(url, args, timeout: timeout)
    }

    // MARK: faults

    /// Sends the client's requests for `butler-node` to node `node` from its next command on.
    func point(_ client: Int, at node: Int) throws {
        let folder = URL(fileURLWithPath: "/etc/netns/\(namespace(client))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try "127.0.0.1 localhost\n\(nodeAddress(node)) \(Self.serverName)\n".write(
            to: folder.appendingPathComponent("hosts"), atomically: true, encoding: .utf8)
    }

    /// Cuts the client off from `node`: `silent` makes its packets vanish (timeouts, stalls),
    /// otherwise every connection is refused at once by a blackhole route.
    func partition(_ client: Int, from node: Int, silent: Bool) async throws {
        let ns = namespace(client)
        if silent {
            try await Self.ipOK(["-n", ns, "neigh", "replace", nodeAddress(node), "lladdr", "02:00:00:00:00:01", "dev", "eth0", "nud", "permanent"])
            applied.withLock { _ = $0[client, default: Applied()].silent.insert(node) }
        } else {
            try await Self.ipOK(["-n", ns, "route", "replace", "blackhole", "\(nodeAddress(node))/32"])
            applied.withLock { _ = $0[client, default: Applied()].blackholes.insert(node) }
        }
    }

    /// What a degraded link does.
    enum LinkFault: Sendable {
        case latency(milliseconds: Int, jitter: Int)
        case loss(percent: Int)

        var name: String {
            switch self {
            case .latency: "latency"
            case .loss: "loss"
            }
        }
    }

    /// Degrades the client's link in both directions; returns what was applied (`latency (netem)`,
    /// `slow link (tbf)`, `loss (nftables)`…), or nil when this kernel offers no way to do it.
    func degrade(_ client: Int, _ fault: LinkFault) async throws -> String? {
        let ns = namespace(client)
        switch fault {
        case .latency(let ms, let jitter):
            applied.withLock { $0[client, default: Applied()].queues = true }
            if netem {
                try await netemBothWays(client, ["delay", "\(ms)ms", "\(jitter)ms"])
                return "latency (netem)"
            }
            // No netem: a slow link instead, whose queue adds the delay.
            try await tcOK(ns, ["qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", "384kbit", "burst", "8kb", "latency", "\(max(ms, 100) * 4)ms"])
            try await tcOK(nil, ["qdisc", "replace", "dev", veth(client), "root", "tbf", "rate", "384kbit", "burst", "8kb", "latency", "\(max(ms, 100) * 4)ms"])
            return "slow link (tbf)"
        case .loss(let percent):
            if netem {
                applied.withLock { $0[client, default: Applied()].queues = true }
                try await netemBothWays(client, ["loss", "\(percent)%"])
                return "loss (netem)"
            }
            guard nftables, let nft = Self.nft else { return nil }
            applied.withLock { $0[client, default: Applied()].lossRules = true }
            let rules = """
                table inet butlerjepsen {
                  chain in { type filter hook input priority 0; policy accept; numgen random mod 100 < \(percent) drop; }
                  chain out { type filter hook output priority 0; policy accept; numgen random mod 100 < \(percent) drop; }
                }
                """
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(ns)-loss.nft")
            try rules.write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            let result = try await inside(client, nft, ["-f", file.path])
            guard result.status == 0 else { throw TestFailure("nft -f in \(ns) failed: \(result.stderr)") }
            return "loss (nftables)"
        }
    }

    private func netemBothWays(_ client: Int, _ options: [String]) async throws {
        try await tcOK(namespace(client), ["qdisc", "replace", "dev", "eth0", "root", "netem"] + options)
        try await tcOK(nil, ["qdisc", "replace", "dev", veth(client), "root", "netem"] + options)
    }

    /// Removes every fault on the client's link and paths: partitions, queues, loss rules.
    func heal(client: Int) async throws {
        let ns = namespace(client)
        guard let faults = applied.withLock({ $0.removeValue(forKey: client) }) else { return }
        for node in faults.blackholes.sorted() { _ = try await Self.ip(["-n", ns, "route", "del", "blackhole", "\(nodeAddress(node))/32"]) }
        for node in faults.silent.sorted() { _ = try await Self.ip(["-n", ns, "neigh", "del", nodeAddress(node), "dev", "eth0"]) }
        if faults.queues {
            _ = try await inside(client, Self.tc!, ["qdisc", "del", "dev", "eth0", "root"])
            _ = try await runCommand(Self.tc!, ["qdisc", "del", "dev", veth(client), "root"])
        }
        if faults.lossRules, let nft = Self.nft { _ = try await inside(client, nft, ["delete", "table", "inet", "butlerjepsen"]) }
    }

    // MARK: helpers

    @discardableResult
    static func ip(_ arguments: [String]) async throws -> CommandResult {
        try await runCommand(ip!, arguments, timeout: .seconds(30))
    }

    static func ipOK(_ arguments: [String]) async throws {
        let result = try await ip(arguments)
        guard result.status == 0 else { throw TestFailure("ip \(arguments.joined(separator: " ")) failed: \(result.stderr)") }
    }

    private func tcOK(_ namespace: String?, _ arguments: [String]) async throws {
        let result =
            if let namespace { try await runCommand(Self.ip!, ["netns", "exec", namespace, Self.tc!.path] + arguments) } else {
                try await runCommand(Self.tc!, arguments)
            }
        guard result.status == 0 else { throw TestFailure("tc \(arguments.joined(separator: " ")) failed: \(result.stderr)") }
    }
}
