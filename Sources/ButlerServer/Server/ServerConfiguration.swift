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
    /// PostgreSQL instead of the embedded SQLite file: `postgres://user:password@host:5432/db`.
    /// Env `BUTLER_DATABASE_URL`.
    public var databaseURL: String? = nil
    /// Where photo blobs live; shared storage when several nodes serve one database. Env
    /// `BUTLER_BLOBS`; default `<data>/blobs`.
    public var blobsOverride: URL? = nil
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
    public var sqliteURL: URL { dataDirectory.appendingPathComponent("butler.sqlite") }
    /// The blob folder inside the data directory.
    public var blobDirectory: URL { blobsOverride ?? dataDirectory.appendingPathComponent("blobs", isDirectory: true) }

    /// The defaults overridden by `BUTLER_HOST`, `BUTLER_PORT`, `BUTLER_DATA`, `BUTLER_DATABASE_URL` and `BUTLER_BLOBS` where set.
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
        if let url = environment["BUTLER_DATABASE_URL"], !url.isEmpty { config.databaseURL = url }
        if let blobs = environment["BUTLER_BLOBS"], !blobs.isEmpty { config.blobsOverride = URL(fileURLWithPath: blobs, isDirectory: true) }
        return config
    }
}
