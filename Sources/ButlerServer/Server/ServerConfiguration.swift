import ButlerModel
import Foundation

/// How a butler-server is set up; the zero-configuration default serves 127.0.0.1:8080 from `./butler-data`.
///
/// Precedence for every setting: command-line flag > environment variable > the default here.
public struct ServerConfiguration: Sendable {
    /// Env `BUTLER_HOST`.
    public var host: String = "127.0.0.1"
    /// Env `BUTLER_PORT`; 0 picks a free port (reported once the server runs).
    public var port: Int = 8080
    /// The data directory: `butler.sqlite` and a `blobs/` folder. Env `BUTLER_DATA`.
    public var dataDirectory: URL = URL(fileURLWithPath: "butler-data", isDirectory: true)
    /// Largest push body accepted.
    public var maxPushBytes: Int = 16 << 20
    /// Largest photo accepted.
    public var maxBlobBytes: Int64 = 512 << 20
    /// Largest pull page.
    public var maxPullLimit: Int = WireProtocol.maxPullLimit
    /// The estate calendar (time zone, rain days) the deadline views use.
    public var calendar = EstateCalendar()
    /// The clock deadlines and revocations are measured against.
    public var clock: any WallClock = SystemWallClock()

    public init() {}

    /// The database file inside the data directory.
    public var databaseURL: URL { dataDirectory.appendingPathComponent("butler.sqlite") }
    /// The blob folder inside the data directory.
    public var blobDirectory: URL { dataDirectory.appendingPathComponent("blobs", isDirectory: true) }

    /// The defaults overridden by `BUTLER_HOST`, `BUTLER_PORT` and `BUTLER_DATA` where set.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServerConfiguration {
        var config = ServerConfiguration()
        if let host = environment["BUTLER_HOST"], !host.isEmpty { config.host = host }
        if let port = environment["BUTLER_PORT"], !port.isEmpty {
            guard let value = Int(port), (0...65535).contains(value) else {
                throw ModelError(.invalidValue, "BUTLER_PORT must be a port number 0…65535, got \"\(port)\"")
            }
            config.port = value
        }
        if let data = environment["BUTLER_DATA"], !data.isEmpty { config.dataDirectory = URL(fileURLWithPath: data, isDirectory: true) }
        return config
    }
}
