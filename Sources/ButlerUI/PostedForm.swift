import Foundation
import Hummingbird

/// The fields of a posted form, `application/x-www-form-urlencoded` or `multipart/form-data`
/// (with at most one file), read from a body of bounded size.
struct PostedForm: Sendable {
    var fields: [String: String] = [:]
    /// The uploaded file's bytes, when the form had a non-empty file field.
    var file: Data?

    /// Reads and parses the body, refusing (413) past `maxBytes` before holding more than that.
    static func read(_ request: Request, maxBytes: Int) async throws -> PostedForm {
        // Past the limit the rest is read and dropped (up to a bound), so the browser gets the
        // 413 page instead of a connection reset while it is still sending.
        var body = Data(), seen = 0, over = request.headers[.contentLength].flatMap(Int.init).map { $0 > maxBytes } ?? false
        for try await buffer in request.body {
            seen += buffer.readableBytes
            if seen > maxBytes { over = true }
            if over {
                body = Data()
                if seen > drainLimit { break }
                continue
            }
            body.append(contentsOf: buffer.readableBytesView)
        }
        if over { throw tooLarge(maxBytes) }
        let contentType = request.headers[.contentType] ?? ""
        if contentType.lowercased().hasPrefix("multipart/form-data") {
            guard let boundary = parameter("boundary", in: contentType) else {
                throw PageError(.badRequest, "上传有误", "表单缺少 multipart 边界，未做任何修改。")
            }
            return try multipart(body, boundary: boundary)
        }
        return PostedForm(fields: urlEncoded(String(decoding: body, as: UTF8.self)))
    }

    /// How much of an oversized body is read and dropped before the connection is given up.
    static let drainLimit = 256 << 20

    static func tooLarge(_ maxBytes: Int) -> PageError {
        PageError(.contentTooLarge, "文件太大", "上传的内容超过 \(maxBytes / (1 << 20)) MB，未保存。请拍一张较小的照片再试。")
    }

    /// `a=1&b=%E4%B8%AD+x` → ["a": "1", "b": "中 x"]; the last of repeated names wins.
    static func urlEncoded(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            guard let name = parts.first else { continue }
            fields[decode(name)] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    /// A `; name=value` parameter of a header value, quotes removed.
    static func parameter(_ name: String, in header: String) -> String? {
        for piece in header.split(separator: ";").dropFirst() {
            let kv = piece.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            guard kv.count == 2, kv[0].lowercased() == name else { continue }
            var value = String(kv[1])
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }

    /// RFC 7578: parts separated by `--boundary`, each with headers, a blank line and its bytes.
    static func multipart(_ body: Data, boundary: String) throws -> PostedForm {
        let bad = PageError(.badRequest, "上传有误", "上传的表单格式不正确，未做任何修改。")
        let bytes = [UInt8](body)
        let delimiter = Array("--\(boundary)".utf8)
        let separator = Array("\r\n\r\n".utf8)
        var form = PostedForm()
        guard var start = find(delimiter, in: bytes, from: 0) else { throw bad }
        while true {
            start += delimiter.count
            // "--" after a delimiter ends the body.
            if start + 2 <= bytes.count, bytes[start] == 45, bytes[start + 1] == 45 { return form }
            guard start + 2 <= bytes.count, bytes[start] == 13, bytes[start + 1] == 10 else { throw bad }
            start += 2
            guard let headerEnd = find(separator, in: bytes, from: start),
                  let next = find(Array("\r\n".utf8) + delimiter, in: bytes, from: headerEnd + 4)
            else { throw bad }
            let headers = String(decoding: bytes[start..<headerEnd], as: UTF8.self)
            let content = bytes[(headerEnd + 4)..<next]
            let disposition = headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-disposition:") }.map(String.init) ?? ""
            guard let name = parameter("name", in: disposition) else { throw bad }
            if parameter("filename", in: disposition) != nil {
                if !content.isEmpty { form.file = Data(content) }
            } else {
                form.fields[name] = String(decoding: content, as: UTF8.self)
            }
            start = next + 2
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        var index = from
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == needle[0], haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
