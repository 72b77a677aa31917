import Foundation

/// The storage backends the server runs on in tests: SQLite always, PostgreSQL when
/// `BUTLER_TEST_DATABASE_URL` names a database (`Tests/run.sh` starts a throwaway cluster).
///
/// Use it as a test argument so each behaviour is checked on both:
/// `@Test("…", arguments: Backend.available)`.
public enum Backend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgres

    /// The throwaway test database, if any.
    public static let databaseURL = ProcessInfo.processInfo.environment["BUTLER_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    /// SQLite, and PostgreSQL when a test database is set.
    public static let available: [Backend] = databaseURL == nil ? [.sqlite] : [.sqlite, .postgres]
    public var description: String { rawValue }

    /// The test database with a schema of its own (`prefix` + random), so tests never see each
    /// other's rows. Only for `.postgres`, with a test database set.
    public static func freshSchemaURL(prefix: String = "t_") -> String {
        let schema = prefix + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        return "\(databaseURL!)?schema=\(schema)"
    }
}
