import ButlerModel
import Foundation

/// How a ButlerClient store and its sync engine are set up.
///
/// Precedence for every setting: command-line flag > environment variable > the default here.
public struct ClientConfiguration: Sendable {
    /// The store's home directory (`butler.sqlite`, `blobs/`). Env `BUTLER_HOME`; default `~/.butler`.
    public var home: URL
    /// Deltas per push request (each batch is merged by the server in one transaction).
    public var pushBatchSize: Int = 500
    /// Changes per pull page.
    public var pullPageSize: Int = 1000

    public init(home: URL) {
        self.home = home
    }

    /// The default home: `$BUTLER_HOME`, else `~/.butler`.
    public static func defaultHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let home = environment["BUTLER_HOME"], !home.isEmpty { return URL(fileURLWithPath: home, isDirectory: true) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".butler", isDirectory: true)
    }
}
