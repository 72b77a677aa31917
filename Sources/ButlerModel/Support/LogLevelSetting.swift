import Foundation

/// The one log-level setting every executable reads: `BUTLER_LOG_LEVEL`.
///
/// The value is a swift-log level name (`trace`, `debug`, `info`, `notice`, `warning`, `error`,
/// `critical`, in any letter case). This type lives in the model, which is Foundation only, so the
/// client tools and the server parse the setting the same way without the model importing swift-log:
/// it returns the *name*, and each executable turns it into `Logger.Level(rawValue:)`, which
/// accepts every name this type lets through.
///
/// An unset or empty variable means "the tool's own default", so the function returns `nil` and
/// the tool picks it (`butler` warns only, the daemons log `info`). A value that is not a level is
/// an error rather than a silent default: a typo in a systemd unit should not hide the logs
/// someone turned on to find a problem.
///
/// ```swift
/// let name = try LogLevelSetting.levelName(acceptingLegacy: true) ?? "info"
/// handler.logLevel = Logger.Level(rawValue: name) ?? .info
/// ```
public enum LogLevelSetting {
    /// The environment variable every executable reads.
    public static let variable = "BUTLER_LOG_LEVEL"
    /// The variable `butler-server` read before ``variable`` existed; still honoured where
    /// ``levelName(in:acceptingLegacy:)`` is asked to, so old server env files keep working.
    public static let legacyVariable = "LOG_LEVEL"
    /// swift-log's level names, lowest first (`Logger.Level`'s raw values).
    public static let levelNames = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// The log level the environment asks for, lowercased, or `nil` when it asks for none.
    ///
    /// ``variable`` wins whenever it is set and not empty. Only when it is not, and
    /// `acceptingLegacy` is `true`, is ``legacyVariable`` read. The client tools pass `false`:
    /// `LOG_LEVEL` is a name other software sets too, and it never configured them.
    ///
    /// - Throws: ``ModelError/Code/invalidValue`` naming the variable when the value is not one
    ///   of ``levelNames``.
    public static func levelName(
        in environment: [String: String] = ProcessInfo.processInfo.environment, acceptingLegacy: Bool
    ) throws -> String? {
        if let value = environment[variable], !value.isEmpty { return try validated(value, from: variable) }
        // A legacy value that is not a level was always ignored (other software sets LOG_LEVEL too): still is.
        if acceptingLegacy, let value = environment[legacyVariable], !value.isEmpty { return try? validated(value, from: legacyVariable) }
        return nil
    }

    /// `value` as a level name, lowercased and trimmed.
    ///
    /// - Parameter source: where the value came from (a variable or a flag), named in the error.
    /// - Throws: ``ModelError/Code/invalidValue`` when `value` is not one of ``levelNames``.
    public static func validated(_ value: String, from source: String) throws -> String {
        let name = value.trimmingCharacters(in: .whitespaces).lowercased()
        guard levelNames.contains(name) else {
            throw ModelError(
                .invalidValue, "\(source)=\"\(value)\" is not a log level; use one of \(levelNames.joined(separator: ", "))")
        }
        return name
    }
}
