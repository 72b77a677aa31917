import ButlerModel
import Foundation

/// Where a device keeps its store. The sync engine's own settings are ``SyncEngine/Configuration``.
///
/// Precedence: command-line flag (`--home`) > environment variable (`BUTLER_HOME`) > `~/.butler`.
public enum ClientConfiguration {
    /// The default home: `$BUTLER_HOME`, else `~/.butler`.
    public static func defaultHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let home = environment["BUTLER_HOME"], !home.isEmpty { return URL(fileURLWithPath: home, isDirectory: true) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".butler", isDirectory: true)
    }
}
