import ButlerFiles
import ButlerModel
import Foundation
import Logging

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
    /// Photo bytes one device may upload per UTC day; more is refused with `quota-exceeded` (429)
    /// until the next day. Env `BUTLER_BLOB_QUOTA_PER_DAY` (bytes). A butler's day is a few hundred
    /// photos of a few MB; the default leaves room for that several times over.
    public var blobBytesPerDevicePerDay: Int64 = 4 << 30
    /// Bytes of complete photos one device may hold on the server that no photo record references
    /// (uploaded, but their record never arrived); more is refused with `quota-exceeded` until the
    /// sweeper expires them. Env `BUTLER_UNREFERENCED_BLOB_QUOTA` (bytes).
    public var unreferencedBlobBytesPerDevice: Int64 = 1 << 30
    /// How long a photo no record references, or an abandoned partial upload, is kept before the
    /// sweeper deletes it. Env `BUTLER_UNREFERENCED_BLOB_TTL_HOURS`; default 7 days.
    public var unreferencedBlobTTL: TimeInterval = 7 * 86_400
    /// How often the sweeper runs while the server serves.
    public var sweepInterval: Duration = .seconds(3600)
    /// Largest pull page.
    public var maxPullLimit: Int = WireProtocol.maxPullLimit
    /// A pull page ends after the state that reaches this many bytes (it always holds one), so a
    /// zone of large records is served in bounded pages.
    public var maxPullPageBytes: Int = 8 << 20
    /// Live pulls (`wait=`) one device may hold open at once; a new one beyond them ends the
    /// device's oldest, so one device (a rogue, a looping script) cannot take a node's connections
    /// from the others, and a device that abandoned its pulls is not refused when it reconnects.
    public var maxLiveWaitsPerDevice: Int = 8
    /// The longest this server holds a live pull, whatever `wait` asks (≤ 60 s): shorter behind a
    /// proxy that cuts idle connections. The device gets an empty page and asks again. Env
    /// `BUTLER_MAX_LIVE_WAIT` (seconds).
    public var maxLiveWaitSeconds: Int = WireProtocol.maxPullWaitSeconds
    /// The estate calendar the deadline views use: its time zone (env `BUTLER_ESTATE_UTC_OFFSET`,
    /// e.g. `+08:00`, the default) is served to devices in `GET /v1/devices/me`; the views add the
    /// rain days recorded in the zones' `rain-day` records.
    public var calendar = EstateCalendar()
    /// How much the server logs (to stderr). Env `BUTLER_LOG_LEVEL`, the one variable every
    /// executable reads (the older `LOG_LEVEL` is still honoured when it is not set).
    public var logLevel: Logger.Level = .info
    /// The clock deadlines and revocations are measured against.
    public var clock: any WallClock = SystemWallClock()
    /// Where issued replica ids come from (seeded in the deterministic simulation).
    public var entropy: any EntropySource = SystemEntropy()
    /// How far the embedded SQLite store's commits and the blob folder's files survive. Always
    /// ``Durability/powerLoss`` for a real server (no flag or variable changes it): an acknowledged
    /// push survives power loss. The deterministic simulation alone sets ``Durability/processCrash``
    /// for its in-process nodes (see ``Durability``). PostgreSQL's durability is its own.
    public var durability: Durability = .powerLoss
    /// The supervisor console's settings (sessions' lifetime), see ``ConsoleConfiguration``.
    public var console = ConsoleConfiguration()

    public init() {}

    /// The database file inside the data directory.
    public var sqliteURL: URL { dataDirectory.appendingPathComponent("butler.sqlite") }
    /// The blob folder inside the data directory.
    public var blobDirectory: URL { blobsOverride ?? dataDirectory.appendingPathComponent("blobs", isDirectory: true) }

    /// The defaults overridden by `BUTLER_HOST`, `BUTLER_PORT`, `BUTLER_DATA`, `BUTLER_DATABASE_URL`, `BUTLER_BLOBS`,
    /// `BUTLER_LOG_LEVEL`, `BUTLER_ESTATE_UTC_OFFSET` and the blob quota variables where set; a value the server cannot use
    /// throws ``ConfigurationError`` naming the variable.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServerConfiguration {
        var config = ServerConfiguration()
        if let host = environment["BUTLER_HOST"], !host.isEmpty { config.host = host }
        if let port = environment["BUTLER_PORT"], !port.isEmpty {
            guard let value = Int(port), (0...65535).contains(value) else {
                throw ConfigurationError("BUTLER_PORT must be a port number 0…65535, got \"\(port)\"")
            }
            config.port = value
        }
        if let data = environment["BUTLER_DATA"], !data.isEmpty { config.dataDirectory = URL(fileURLWithPath: data, isDirectory: true) }
        if let url = environment["BUTLER_DATABASE_URL"], !url.isEmpty { config.databaseURL = url }
        if let blobs = environment["BUTLER_BLOBS"], !blobs.isEmpty { config.blobsOverride = URL(fileURLWithPath: blobs, isDirectory: true) }
        if let text = environment["BUTLER_BLOB_QUOTA_PER_DAY"], !text.isEmpty {
            guard let value = Int64(text), value > 0 else { throw ConfigurationError("BUTLER_BLOB_QUOTA_PER_DAY must be a positive number of bytes, got \"\(text)\"") }
            config.blobBytesPerDevicePerDay = value
        }
        if let text = environment["BUTLER_UNREFERENCED_BLOB_QUOTA"], !text.isEmpty {
            guard let value = Int64(text), value > 0 else { throw ConfigurationError("BUTLER_UNREFERENCED_BLOB_QUOTA must be a positive number of bytes, got \"\(text)\"") }
            config.unreferencedBlobBytesPerDevice = value
        }
        if let text = environment["BUTLER_UNREFERENCED_BLOB_TTL_HOURS"], !text.isEmpty {
            guard let value = Double(text), value > 0 else { throw ConfigurationError("BUTLER_UNREFERENCED_BLOB_TTL_HOURS must be a positive number of hours, got \"\(text)\"") }
            config.unreferencedBlobTTL = value * 3600
        }
        if let text = environment["BUTLER_MAX_LIVE_WAIT"], !text.isEmpty {
            guard let value = Int(text), (1...WireProtocol.maxPullWaitSeconds).contains(value) else {
                throw ConfigurationError("BUTLER_MAX_LIVE_WAIT must be 1…\(WireProtocol.maxPullWaitSeconds) seconds, got \"\(text)\"")
            }
            config.maxLiveWaitSeconds = value
        }
        if let text = environment["BUTLER_ESTATE_UTC_OFFSET"], !text.isEmpty {
            do {
                config.calendar = EstateCalendar(utcOffsetSeconds: try EstateCalendar.parseUTCOffset(text), rainDays: config.calendar.rainDays)
            } catch let error as ModelError {
                throw ConfigurationError("BUTLER_ESTATE_UTC_OFFSET: \(error.message)")
            }
        }
        config.console = try ConsoleConfiguration.fromEnvironment(environment)
        do {
            if let name = try LogLevelSetting.levelName(in: environment, acceptingLegacy: true) { config.logLevel = Logger.Level(rawValue: name) ?? .info }
        } catch let error as ModelError {
            throw ConfigurationError(error.message)
        }
        return config
    }
}
