import Foundation
import Hummingbird

/// Checks that a request comes from the handheld page itself, not from another web page open in
/// the same browser.
///
/// The server listens on 127.0.0.1, but any page the handheld's browser opens could still send
/// requests to it: a form posted cross-site (CSRF), or a page on an attacker's host name that
/// resolves to 127.0.0.1 (DNS rebinding), which would even let it read our pages. So:
/// - every request must name a loopback host in `Host` (rebinding sends the attacker's name);
/// - every POST must carry the per-process form token in its `csrf` field (only our own pages
///   hold it), and, when the browser sends them, an `Origin` equal to our own and a
///   `Sec-Fetch-Site` of `same-origin` (or `none`: typed by the user).
/// A refused request gets a 403 and changes nothing: the checks run before any store call.
struct RequestGuard: Sendable {
    let token: String

    static let loopbackHosts: Set<String> = ["127.0.0.1", "localhost", "[::1]"]

    /// The host name in a `Host` header, without its port.
    static func hostName(_ host: String) -> String {
        if host.hasPrefix("[") { return String(host.prefix { $0 != "]" }) + "]" }
        return String(host.prefix { $0 != ":" }).lowercased()
    }

    /// Refuses a request whose `Host` is not loopback (DNS rebinding). A request without a
    /// `Host` (not a browser) passes.
    func checkHost(_ request: Request) throws {
        guard let host = Self.host(request) else { return }
        guard Self.loopbackHosts.contains(Self.hostName(host)) else {
            throw PageError(.forbidden, "拒绝访问", "这个页面只在本机地址上打开（http://127.0.0.1）。")
        }
    }

    /// Refuses a POST that did not come from our own page: wrong or missing token, a foreign
    /// `Origin`, or a cross-site `Sec-Fetch-Site`.
    func checkPost(_ request: Request, fields: [String: String]) throws {
        if let site = request.headers[.secFetchSite], site != "same-origin", site != "none" {
            throw Self.refused("the request came from another site (Sec-Fetch-Site: \(site))")
        }
        if let origin = request.headers[.origin] {
            guard let host = Self.host(request), origin == "http://\(host)" else {
                throw Self.refused("the request came from another origin (\(origin))")
            }
        }
        guard let sent = fields["csrf"], Self.constantTimeEqual(sent, token) else {
            throw Self.refused("the page's form token is missing or wrong")
        }
    }

    /// The request's `Host` (HTTP/1's header becomes the request's authority in HTTPTypes).
    static func host(_ request: Request) -> String? { request.head.authority }

    static func refused(_ why: String) -> PageError {
        PageError(.forbidden, "请求被拒绝", "这个请求不是从本页面发出的，未做任何修改。请回到首页重新操作。（\(why)）")
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for (p, q) in zip(x, y) { difference |= p ^ q }
        return difference == 0
    }
}

/// A header name (HTTPTypes' `HTTPField.Name`, which Hummingbird does not re-export by that name).
typealias HeaderName = HTTPFields.Element.Name

extension HeaderName {
    static let secFetchSite = HeaderName("Sec-Fetch-Site")!
}
