import ButlerModel
import Foundation
import Synchronization

/// Signs console users in and out and checks every page request's session and every form's CSRF
/// token. A session is 256 random bits in an `HttpOnly; SameSite=Strict; Path=/console` cookie;
/// the store keeps its SHA-256, so it expires (``ConsoleConfiguration/sessionLifetime`` after
/// sign-in, however active), ends at sign-out and ends for every session of a user revoked.
public struct ConsoleSessions: Sendable {
    public static let cookieName = "butler_console"

    let storage: any ConsoleStorage
    let configuration: ConsoleConfiguration
    let clock: any WallClock
    let throttle: LoginThrottle

    public init(storage: any ConsoleStorage, configuration: ConsoleConfiguration, clock: any WallClock, throttle: LoginThrottle = LoginThrottle()) {
        self.storage = storage
        self.configuration = configuration
        self.clock = clock
        self.throttle = throttle
    }

    /// A signed-in user with the session that opened the page.
    public struct SignedIn: Sendable {
        public let user: ConsoleUser
        public let session: ConsoleSession
    }

    /// Checks `name` and `password`; on success stores a new session and returns its id (the
    /// cookie's value) with the session. A wrong name costs the same scrypt work as a wrong
    /// password, and each failure for a name slows that name's next attempts (``LoginThrottle``).
    public func signIn(name: String, password: String) async throws -> (id: String, session: ConsoleSession)? {
        await throttle.wait(for: name)
        let user = try await storage.consoleUser(name: name)
        let matches = try await ConsolePassword.verify(password, against: user?.passwordHash ?? ConsolePassword.decoy)
        guard let user, matches, user.revokedAt == nil else {
            throttle.failed(name)
            return nil
        }
        throttle.succeeded(name)
        let id = ConsoleSecrets.token()
        let now = clock.now()
        let session = ConsoleSession(
            idHash: ConsoleSecrets.hash(id), user: user.name, csrf: ConsoleSecrets.token(), createdAt: now,
            expiresAt: now.addingTimeInterval(configuration.sessionLifetime))
        try await storage.addConsoleSession(session)
        return (id, session)
    }

    /// The user a cookie value signs in, when its session is live and the user not revoked.
    public func check(cookie id: String?) async throws -> SignedIn? {
        guard let id, id.utf8.count == 64, id.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return nil }
        guard let session = try await storage.consoleSession(idHash: ConsoleSecrets.hash(id)), session.isLive(at: clock.now()) else { return nil }
        guard let user = try await storage.consoleUser(name: session.user), user.revokedAt == nil else { return nil }
        return SignedIn(user: user, session: session)
    }

    /// Whether a form's token is this session's own (compared in constant time): a token of
    /// another session, an old one or none is refused.
    public static func csrfMatches(_ sent: String?, session: ConsoleSession) -> Bool {
        guard let sent else { return false }
        return ConsoleSecrets.constantTimeEqual(sent, session.csrf)
    }

    public func signOut(_ session: ConsoleSession) async throws {
        try await storage.revokeConsoleSession(idHash: session.idHash, at: clock.now())
    }
}

/// The console's settings: `butler-server serve --console-session-hours` (env
/// `BUTLER_CONSOLE_SESSION_HOURS`, default 12).
public struct ConsoleConfiguration: Sendable {
    /// How long a session opens pages after sign-in, however active (absolute, not sliding).
    public var sessionLifetime: TimeInterval = 12 * 3600

    public init() {}

    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ConsoleConfiguration {
        var config = ConsoleConfiguration()
        if let text = environment["BUTLER_CONSOLE_SESSION_HOURS"], !text.isEmpty {
            config.sessionLifetime = try parseHours(text, name: "BUTLER_CONSOLE_SESSION_HOURS")
        }
        return config
    }

    /// A positive number of hours, at most 30 days, in seconds.
    public static func parseHours(_ text: String, name: String) throws -> TimeInterval {
        guard let hours = Double(text), hours > 0, hours <= 720 else {
            throw ConfigurationError("\(name) must be a number of hours in (0, 720], got \"\(text)\"")
        }
        return hours * 3600
    }
}

/// Slows repeated failed sign-ins for one name: after 3 failures each attempt waits 2^(failures−3)
/// seconds, at most 30; a success clears the name. In memory (one node's view; a restart forgets),
/// bounded to ``capacity`` names (the oldest failure is forgotten first).
public final class LoginThrottle: Sendable {
    struct Entry {
        var failures: Int
        var last: ContinuousClock.Instant
    }

    let entries = Mutex<[String: Entry]>([:])
    let capacity: Int
    let unit: Duration
    let maximum: Duration

    public init(capacity: Int = 10_000, unit: Duration = .seconds(1), maximum: Duration = .seconds(30)) {
        self.capacity = capacity
        self.unit = unit
        self.maximum = maximum
    }

    /// How long the next attempt for `name` waits.
    public func delay(for name: String) -> Duration {
        let failures = entries.withLock { $0[name]?.failures ?? 0 }
        guard failures >= 3 else { return .zero }
        let factor = 1 << min(failures - 3, 16)
        return min(unit * factor, maximum)
    }

    func wait(for name: String) async {
        let delay = delay(for: name)
        if delay > .zero { try? await Task.sleep(for: delay) }
    }

    func failed(_ name: String) {
        entries.withLock { entries in
            if entries[name] == nil, entries.count >= capacity,
                let oldest = entries.min(by: { $0.value.last < $1.value.last })?.key
            {
                entries[oldest] = nil
            }
            entries[name, default: Entry(failures: 0, last: .now)].failures += 1
            entries[name]?.last = .now
        }
    }

    func succeeded(_ name: String) {
        _ = entries.withLock { $0.removeValue(forKey: name) }
    }
}
