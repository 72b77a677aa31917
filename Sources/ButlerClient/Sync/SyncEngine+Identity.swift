import ButlerModel
import Foundation
import Logging

extension SyncEngine {
    /// An engine for `store` talking to the server and token it was initialised with, over libcurl.
    public static func forStore(
        _ store: ClientStore, configuration: Configuration = Configuration(), maxUploadBytesPerSecond: Int? = nil,
        logger: Logger = Logger(label: "butler.client.sync")
    ) throws -> SyncEngine {
        let identity = try store.identity()
        var transportConfiguration = CurlTransport.Configuration(baseURL: identity.serverURL, token: identity.token)
        transportConfiguration.maxUploadBytesPerSecond = maxUploadBytesPerSecond
        let transport = CurlTransport(configuration: transportConfiguration, logger: logger)
        return SyncEngine(store: store, transport: transport, configuration: configuration, logger: logger)
    }
}
