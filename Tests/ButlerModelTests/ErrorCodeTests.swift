import ButlerModel
import Foundation
import Testing

/// The one catalogue of error codes: unique, kebab-case, documented, and the only place codes are spelled.
@Suite struct ErrorCodeTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("every code is unique and kebab-case, and the wire and finding codes are in the catalogue")
    func catalogue() {
        let raw = ErrorCode.catalogue.map(\.rawValue)
        #expect(Set(raw).count == raw.count, "a code is listed twice")
        for code in raw { #expect(code.range(of: "^[a-z]+(-[a-z]+)*$", options: .regularExpression) != nil, "\(code)") }
        #expect(Set(ErrorCode.wire).isSubset(of: Set(ErrorCode.catalogue)))
        #expect(Set(ErrorCode.findings).isSubset(of: Set(ErrorCode.catalogue)))
        #expect(ErrorCode.http(418).rawValue == "http-418")
    }

    @Test("every code a server reply may carry is documented in Protocol/openapi.yaml")
    func documented() throws {
        let openapi = try String(contentsOf: Self.root.appendingPathComponent("Protocol/openapi.yaml"), encoding: .utf8)
        for code in ErrorCode.wire {
            // As a whole word: `internal` inside another word does not count.
            #expect(openapi.range(of: "(?<![a-z-])\(code.rawValue)(?![a-z-])", options: .regularExpression) != nil, "\(code) is not in openapi.yaml")
        }
    }

    @Test("no source file spells a code: producers name the catalogue's members")
    func noLiteralCodes() throws {
        let sources = Self.root.appendingPathComponent("Sources")
        let catalogueFile = sources.appendingPathComponent("ButlerModel/Errors/ErrorCode.swift").standardizedFileURL.path
        let enumerator = try #require(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil))
        var checked = 0
        for case let url as URL in enumerator where url.pathExtension == "swift" && url.standardizedFileURL.path != catalogueFile {
            let text = try String(contentsOf: url, encoding: .utf8)
            checked += 1
            // A code built from a literal, or compared with one.
            for pattern in [#"ErrorCode\(""#, #"Code\(""#, #"code(\?)?(\.rawValue)? == ""#, #"code: ""#] {
                #expect(text.range(of: pattern, options: .regularExpression) == nil, "\(url.lastPathComponent) matches \(pattern)")
            }
        }
        #expect(checked > 50)
    }
}
