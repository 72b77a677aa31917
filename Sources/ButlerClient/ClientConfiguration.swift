import ButlerModel
import Foundation
import Logging

/// How a device's tools run: where the store is, the key that seals it, how fast photos may go
/// up and how much to log. The sync engine's own tuning is ``SyncEngine/Configuration``.
///
/// Precedence: command-line flag > environment variable > default. ``fromEnvironment(_:defaults:)``
/// applies the second layer over the third; each executable then sets the fields its flags name.
///
/// | field | variable | default |
/// |---|---|---|
/// | ``home`` | `BUTLER_HOME` | `~/.butler` |
/// | ``keyFile`` | `BUTLER_KEY_FILE` | none: the store is not encrypted |
/// | ``maxUploadBytesPerSecond`` | `BUTLER_MAX_UPLOAD_RATE` | none: no cap |
/// | ``logLevel`` | `BUTLER_LOG_LEVEL` (see ``LogLevelSetting``) | `info` |
///
/// A variable set to the empty string counts as unset (a unit file's `Environment=BUTLER_KEY_FILE=`
/// clears it). A value that cannot be used is an error, not a silent default.
///
/// ```swift
/// var configuration = try ClientConfiguration.fromEnvironment()
/// if let home = homeFlag { configuration.home = URL(fileURLWithPath: home, isDirectory: true) }
/// let store = try ClientStore.open(home: configuration.home, atRest: try configuration.atRestKey())
/// ```
public struct ClientConfiguration: Sendable, Hashable {
    /// The folder holding the store (`butler.sqlite`) and its photos (`blobs/`).
    public var home: URL
    /// The device key that seals records at rest (see ``AtRestKey``); `nil`: an unencrypted store.
    public var keyFile: URL?
    /// Cap on photo upload speed in bytes per second; `nil`: as fast as the link allows.
    public var maxUploadBytesPerSecond: Int?
    /// The level of the executable's stderr log.
    public var logLevel: Logger.Level

    /// The environment variables, by field.
    public enum Variable {
        public static let home = "BUTLER_HOME"
        public static let keyFile = "BUTLER_KEY_FILE"
        public static let maxUploadRate = "BUTLER_MAX_UPLOAD_RATE"
        public static let logLevel = LogLevelSetting.variable
    }

    /// A configuration with the documented defaults for every field not given.
    public init(
        home: URL = ClientConfiguration.standardHome, keyFile: URL? = nil, maxUploadBytesPerSecond: Int? = nil,
        logLevel: Logger.Level = .info
    ) {
        self.home = home
        self.keyFile = keyFile
        self.maxUploadBytesPerSecond = maxUploadBytesPerSecond
        self.logLevel = logLevel
    }

    /// `~/.butler`, the home when neither a flag nor `BUTLER_HOME` names one.
    public static var standardHome: URL {
        FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".butler", isDirectory: true)
    }

    /// `defaults` with every variable that is set applied over it.
    ///
    /// - Parameters:
    ///   - environment: the variables to read (the process's by default; tests pass their own).
    ///   - defaults: the values for the variables that are not set — a tool whose default differs
    ///     (`butler` logs only warnings) passes it here.
    /// - Throws: ``ClientError/Code/invalidArgument`` naming the variable, when a value is
    ///   unusable: a log level that is not one of ``LogLevelSetting/levelNames``, an upload rate
    ///   that is not a whole number of bytes per second. An upload rate of 0 means no cap, as it
    ///   always has.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment, defaults: ClientConfiguration = ClientConfiguration()
    ) throws -> ClientConfiguration {
        var configuration = defaults
        if let home = value(Variable.home, in: environment) { configuration.home = URL(fileURLWithPath: home, isDirectory: true) }
        if let path = value(Variable.keyFile, in: environment) { configuration.keyFile = URL(fileURLWithPath: path) }
        if let rate = value(Variable.maxUploadRate, in: environment) {
            configuration.maxUploadBytesPerSecond = try uploadRate(rate, from: Variable.maxUploadRate)
        }
        // Only BUTLER_LOG_LEVEL: the legacy LOG_LEVEL is the server's, and other software sets it too.
        let levelName: String?
        do { levelName = try LogLevelSetting.levelName(in: environment, acceptingLegacy: false) } catch let error as ModelError {
            throw ClientError(.invalidArgument, error.message)
        }
        if let levelName { configuration.logLevel = try logLevel(levelName, from: Variable.logLevel) }
        return configuration
    }

    /// An upload rate from a variable or a flag: a whole number of bytes per second, 0 for no cap.
    ///
    /// - Throws: ``ClientError/Code/invalidArgument`` naming `source` otherwise.
    public static func uploadRate(_ text: String, from source: String) throws -> Int? {
        guard let rate = Int(text.trimmingCharacters(in: .whitespaces)), rate >= 0 else {
            throw ClientError(.invalidArgument, "\(source)=\"\(text)\" is not an upload rate; give bytes per second, such as 200000 (0: no cap)")
        }
        return rate == 0 ? nil : rate
    }

    /// A log level from a variable or a flag, in any letter case.
    ///
    /// - Throws: ``ClientError/Code/invalidArgument`` naming `source` when `text` is not one of
    ///   ``LogLevelSetting/levelNames``.
    public static func logLevel(_ text: String, from source: String) throws -> Logger.Level {
        let name: String
        do { name = try LogLevelSetting.validated(text, from: source) } catch let error as ModelError {
            throw ClientError(.invalidArgument, error.message)
        }
        // Every name `validated` lets through is a `Logger.Level` raw value.
        guard let level = Logger.Level(rawValue: name) else {
            throw ClientError(.invalidArgument, "\(source)=\"\(text)\" is not a log level this build knows")
        }
        return level
    }

    /// The device key ``keyFile`` names, or `nil` without one.
    ///
    /// - Parameter creatingIfMissing: make a new random key in ``keyFile`` when there is no file
    ///   there yet (`butler init`); otherwise a missing file is an error, so that a typo never
    ///   opens an encrypted store without its key.
    public func atRestKey(creatingIfMissing: Bool = false) throws -> AtRestKey? {
        guard let keyFile else { return nil }
        if creatingIfMissing, !FileManager.default.fileExists(atPath: keyFile.path) { return try AtRestKey.create(file: keyFile) }
        return try AtRestKey(file: keyFile)
    }

    /// The default home: `$BUTLER_HOME`, else `~/.butler`.
    public static func defaultHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        value(Variable.home, in: environment).map { URL(fileURLWithPath: $0, isDirectory: true) } ?? standardHome
    }

    /// A variable's value, `nil` when unset or empty.
    static func value(_ name: String, in environment: [String: String]) -> String? {
        guard let value = environment[name], !value.isEmpty else { return nil }
        return value
    }
}
