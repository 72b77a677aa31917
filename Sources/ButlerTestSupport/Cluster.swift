import ButlerClient
import ButlerModel
import ButlerServer
import Foundation

/// One or more butler-servers on one store (the nodes), a scratch folder, and the handhelds the
/// test registers on them: the set-up every sync test repeats.
///
/// In process (engine behaviour, on both backends):
/// ```swift
/// try await Cluster.inProcess(backend, "field") { cluster in
///     let li = try await cluster.handheld("li", displayName: "李管家")
///     _ = try li.store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "3号楼")
///     _ = try await li.engine.sync()
/// }
/// ```
/// As processes (kills, disks, networks, the command contract):
/// ```swift
/// let cluster = try await Cluster.processes("crash")
/// defer { cluster.terminate() }
/// let token = try await cluster.node.addDevice("li", role: .butler, zones: ["east-3"])
/// ```
public final class Cluster<Node: ServerNode>: Sendable {
    public let scratch: Scratch
    public let nodes: [Node]
    /// The first node: where devices are registered.
    public var node: Node { nodes[0] }

    init(scratch: Scratch, nodes: [Node]) {
        self.scratch = scratch
        self.nodes = nodes
    }

    /// Registers a device `name` and opens its handheld: a fresh on-disk store under the scratch
    /// folder, initialised for node `node`, with a sync engine whose transport reaches that node.
    public func handheld(
        _ name: String, displayName: String? = nil, role: DeviceRole = .butler, zones: [String] = ["east-3"], node: Int = 0,
        clock: any WallClock = SystemWallClock(), engine: SyncEngine.Configuration = SyncEngine.Configuration()
    ) async throws -> Handheld {
        let token = try await self.node.addDevice(name, role: role, zones: zones)
        let home = scratch.path(name)
        let store = try ClientStore.open(home: home, clock: clock)
        try store.initialize(name: displayName ?? name, serverURL: nodes[node].url, token: token)
        let transport = nodes[node].transport(token: token)
        return Handheld(
            name: name, token: token, home: home, store: store, transport: transport,
            engine: SyncEngine(store: store, transport: transport, configuration: engine))
    }
}

extension Cluster where Node == InProcessServer {
    /// Runs `body` with `nodes` in-process servers on one fresh store of `backend` (nodes share
    /// the database and the blob folder, as `butler-server` nodes do).
    public static func inProcess<T: Sendable>(
        _ backend: Backend, _ name: String, nodes count: Int = 1, configure: @Sendable @escaping (inout ServerConfiguration) -> Void = { _ in },
        _ body: @Sendable @escaping (Cluster<InProcessServer>) async throws -> T
    ) async throws -> T {
        let scratch = Scratch(name)
        let databaseURL = backend == .postgres ? Backend.freshSchemaURL() : nil
        let blobs = count > 1 ? scratch.path("shared-blobs") : nil
        @Sendable func open(_ index: Int, _ opened: [InProcessServer]) async throws -> T {
            guard index < count else { return try await body(Cluster(scratch: scratch, nodes: opened)) }
            let directory = scratch.path(count > 1 ? "node\(index)" : "server")
            return try await InProcessServer.with(
                backend, directory: directory, name: "node\(index)", databaseURL: databaseURL, blobs: blobs, configure: configure
            ) { server in
                try await open(index + 1, opened + [server])
            }
        }
        return try await open(0, [])
    }
}

extension Cluster where Node == ServerProcess {
    /// Starts `nodes` `butler-server` processes on one store: each its own data folder under the
    /// scratch folder; on PostgreSQL a fresh schema and a shared blob folder. All start at once.
    public static func processes(_ name: String, backend: Backend = .sqlite, nodes count: Int = 1, environment: [String: String] = [:]) async throws
        -> Cluster<ServerProcess>
    {
        let scratch = Scratch(name)
        var arguments: [String] = []
        if backend == .postgres {
            arguments = ["--database-url", Backend.freshSchemaURL(prefix: "e2e_"), "--blobs", scratch.path("shared-blobs").path]
        }
        let servers = (0..<count).map {
            ServerProcess(data: scratch.path(count > 1 ? "node\($0)" : "server"), storeArguments: arguments, environment: environment)
        }
        // All at once: the migrations must not trip over each other.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for server in servers { group.addTask { try await server.start() } }
            try await group.waitForAll()
        }
        return Cluster(scratch: scratch, nodes: servers)
    }

    /// Stops every node gracefully and waits.
    public func stop() async {
        for node in nodes { await node.stop() }
    }

    /// SIGTERMs every node without waiting, for a `defer`.
    public func terminate() {
        for node in nodes { node.terminate() }
    }
}

/// A registered device's handheld: its store, the transport to its node and its sync engine.
public struct Handheld: Sendable {
    public let name: String
    public let token: String
    /// The store's home folder (what `butler --home` takes).
    public let home: URL
    public let store: ClientStore
    public let transport: any SyncTransport
    public let engine: SyncEngine
}
