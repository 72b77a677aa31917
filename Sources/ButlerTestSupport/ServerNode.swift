import ButlerClient
import ButlerModel
import Foundation

/// One butler-server a test talks to: the router in this process (``InProcessServer``) or a real
/// `butler-server` process (``ServerProcess``). A ``Cluster`` is one or more of them on one store.
public protocol ServerNode: Sendable {
    /// The URL a handheld's store is initialised with.
    var url: String { get }
    /// The server's data directory.
    var data: URL { get }
    /// Registers a device on the server's store; returns its bearer token.
    func addDevice(_ name: String, role: DeviceRole, zones: [String]) async throws -> String
    /// Revokes a device: every later request with its token is refused.
    func revokeDevice(_ name: String) async throws
    /// A transport that reaches this server with `token`.
    func transport(token: String) -> any SyncTransport
}
