import Foundation

/// How `butler ui` serves the handheld page: on loopback only, on a port of its choosing.
public struct HandheldConfiguration: Sendable {
    /// The port to listen on; 0 lets the system pick a free one (the URL printed says which).
    public var port: Int
    /// The largest request body accepted, a photo upload included (default 25 MiB: a phone
    /// camera's full-size JPEG with room to spare). A larger upload is refused with a 413 page.
    public var maxBodyBytes: Int
    /// The per-process secret every form posts back (``RequestGuard``); random unless a test sets it.
    public var formToken: String

    /// The default port when neither `--port` nor `BUTLER_UI_PORT` names one.
    public static let defaultPort = 8765

    public init(port: Int = HandheldConfiguration.defaultPort, maxBodyBytes: Int = 25 << 20, formToken: String = HandheldConfiguration.randomToken()) {
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.formToken = formToken
    }

    /// 32 random bytes as hex, from the system's cryptographic generator.
    public static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
