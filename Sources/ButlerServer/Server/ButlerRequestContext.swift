import Hummingbird

/// The per-request context: Hummingbird's core plus the authenticated device.
public struct ButlerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``DeviceAuthMiddleware`` for every `/v1` request.
    public var device: DeviceRecord?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.device = nil
    }

    /// Routes collect bodies with their own explicit limits.
    public var maxUploadSize: Int { 16 << 20 }

    /// The authenticated device; only reachable behind the auth middleware.
    func requireDevice() throws -> DeviceRecord {
        guard let device else { throw APIError.unauthorized("no device token") }
        return device
    }
}
