import ButlerClient
import Foundation
import Hummingbird
import Mustache

/// The page templates (`Pages/*.mustache`, bundled with this module) and how a page becomes a response.
struct PageRenderer: Sendable {
    let library: MustacheLibrary

    /// The templates from the resource bundle the build places beside the executable, looked up
    /// as `TemplateCatalog.bundled()` looks up the form templates: `Bundle.module` would stop the
    /// process on a binary copied without its bundle; this throws a clear error instead.
    static func bundled() async throws -> PageRenderer {
        let name = "ButlerSync_ButlerUI.resources"
        var candidates: [URL] = [Bundle.main.bundleURL.appendingPathComponent(name)]
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent(name))
        }
        // Test runners load this module from inside an .xctest bundle next to the resources.
        candidates += Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent().appendingPathComponent(name) }
        guard let directory = candidates.map({ $0.appendingPathComponent("Pages") }).first(where: {
            FileManager.default.fileExists(atPath: $0.appendingPathComponent("base.mustache").path)
        }) else {
            throw ClientError(.file, "the page templates (\(name)/Pages) are not beside the executable: install butler with its resource bundles")
        }
        return PageRenderer(library: try await MustacheLibrary(directory: directory.path))
    }

    /// The page `name` rendered with `data`, as an HTML response that no other site may frame or
    /// script, and that no cache keeps (it holds the form token).
    func page(_ name: String, _ data: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let html = library.render(data, withTemplate: name) ?? "<!doctype html><p>page \(name) is missing</p>"
        return Response(status: status, headers: Self.headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func error(_ error: PageError, back: String = "/") -> Response {
        page("error", ["title": error.title, "message": error.message, "back": back], status: error.status)
    }

    static let headers: HTTPFields = [
        .contentType: "text/html; charset=utf-8",
        .cacheControl: "no-store",
        .contentSecurityPolicy:
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        HeaderName("X-Frame-Options")!: "DENY",
        // Not no-referrer: with it, browsers send `Origin: null` on our own form posts, which the guard refuses.
        HeaderName("Referrer-Policy")!: "same-origin",
        HeaderName("X-Content-Type-Options")!: "nosniff",
        HeaderName("Cross-Origin-Resource-Policy")!: "same-origin",
    ]

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }
}
