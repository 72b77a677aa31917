import Hummingbird
import NIOCore

/// The per-request context: Hummingbird's core plus, once ``DeviceAuthMiddleware`` has checked the
/// bearer token, the authenticated device.
public struct ButlerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``DeviceAuthMiddleware`` for every `/v1` request.
    public var device: DeviceRecord?
    /// The request's connection: a live pull ends its wait when the device hangs up.
    public let connection: (any Channel)?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.device = nil
        self.connection = source.channel
    }

    /// Routes collect bodies with their own explicit limits.
    public var maxUploadSize: Int { 16 << 20 }
}

/// The context of every authenticated (`/v1`) route: the device is always there, so no handler
/// checks for it. Built from the parent context after ``DeviceAuthMiddleware`` ran; a request that
/// somehow reaches it without a device is refused as unauthorized rather than served.
public struct DeviceRequestContext: ChildRequestContext {
    public typealias ParentContext = ButlerRequestContext
    public var coreContext: CoreRequestContextStorage
    /// The device the request's token belongs to (not revoked).
    public let device: DeviceRecord
    /// The request's connection (see ``ButlerRequestContext/connection``).
    public let connection: (any Channel)?

    public init(context: ButlerRequestContext) throws {
        guard let device = context.device else { throw APIError.unauthorized("no device token") }
        self.coreContext = context.coreContext
        self.device = device
        self.connection = context.connection
    }

    public var maxUploadSize: Int { 16 << 20 }
}
