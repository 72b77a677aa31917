import ButlerModel
import Hummingbird

/// Checks every `/v1` request: the protocol version first (an old client gets a clear 426, not
/// corruption), then the bearer token against the stored hashes — on every request, so a
/// revocation takes effect at once, on every node.
struct DeviceAuthMiddleware: RouterMiddleware {
    typealias Context = ButlerRequestContext
    let storage: any SyncStorage
    /// The console's devices page shows when each device was last seen (`nil`: not noted).
    var lastSeen: LastSeen? = nil
    var clock: any WallClock = SystemWallClock()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let device = try await Self.authenticate(request, storage: storage)
        await lastSeen?.note(device.name, at: clock.now(), logger: context.logger)
        var context = context
        context.device = device
        context.logger[metadataKey: "butler.device"] = "\(device.name)"
        return try await next(request, context)
    }

    /// The device a request comes from, checked: protocol version, token, not revoked. A live
    /// pull checks again after its wait, so a device revoked meanwhile receives nothing more.
    static func authenticate(_ request: Request, storage: any SyncStorage) async throws -> DeviceRecord {
        let version = request.headers[.init(WireProtocol.versionHeader)!]
        guard let version else {
            throw APIError(
                .badRequest, .protocolVersion,
                "send the header \(WireProtocol.versionHeader): \(WireProtocol.version) (this server speaks protocol \(WireProtocol.version))")
        }
        guard version == String(WireProtocol.version) else {
            throw APIError(
                .upgradeRequired, .protocolVersion,
                "this server speaks protocol \(WireProtocol.version), the client protocol \(version): update the client")
        }
        guard let authorization = request.headers[.authorization], authorization.hasPrefix("Bearer "),
            case let token = String(authorization.dropFirst(7)), !token.isEmpty, token.utf8.count <= 512
        else { throw APIError.unauthorized("send Authorization: Bearer <device token>") }
        guard let device = try await storage.device(tokenHash: DeviceTokens.hash(token)) else {
            throw APIError.unauthorized("unknown device token")
        }
        guard device.revokedAt == nil else {
            throw APIError(.unauthorized, .tokenRevoked, "device \(device.name) was revoked; hand it in to your supervisor")
        }
        return device
    }
}
