import ButlerModel
import CZlib
import Foundation

/// A failure to read a gzip stream: `invalid-encoding` when the bytes are not a whole gzip stream,
/// `body-too-large` when they inflate beyond the caller's limit.
public typealias GzipError = LayerError<GzipLayer>

/// The gzip helpers' errors (``GzipError``).
public enum GzipLayer: ErrorLayer {}

/// gzip (RFC 1952) on zlib: what the wire's `Content-Encoding: gzip` means, for the client and the
/// server alike.
///
/// ```swift
/// let packed = Gzip.compress(body)
/// let body = try Gzip.decompress(packed, limit: 16 << 20)
/// ```
///
/// Inflating is bounded: a few kilobytes of gzip can stand for gigabytes (a "gzip bomb"), so every
/// inflate takes the most bytes it may produce and stops with `body-too-large` as soon as the
/// output would pass it — before it is allocated. ``Inflater`` inflates a stream piece by piece
/// for a reader that never holds more than it asked for.
public enum Gzip {
    /// The compression level of ``compress(_:level:)``'s default: zlib's 6, its usual
    /// speed-for-size balance (9 saves a few percent more on JSON at twice the time).
    public static let defaultLevel: Int32 = 6

    /// `bytes` as one gzip stream.
    public static func compress(_ bytes: some Collection<UInt8>, level: Int32 = defaultLevel) -> [UInt8] {
        let deflater = Deflater(level: level)
        var output = deflater.compress(Array(bytes))
        output += deflater.finish()
        return output
    }

    /// The bytes of the one gzip stream `bytes` holds, at most `limit` of them.
    /// - Throws: ``GzipError`` `body-too-large` past `limit`; `invalid-encoding` when `bytes` is
    ///   not exactly one whole gzip stream (corrupt, cut short, or followed by other bytes).
    public static func decompress(_ bytes: some Collection<UInt8>, limit: Int) throws(GzipError) -> [UInt8] {
        let inflater = Inflater(limit: limit)
        inflater.feed(bytes)
        var output: [UInt8] = []
        while let chunk = try inflater.next() { output += chunk }
        try inflater.finish()
        return output
    }

    /// Whether an `Accept-Encoding` header value allows gzip (RFC 9110 §12.5.3): `gzip` (or
    /// `x-gzip`) with a weight above zero, or `*` above zero when gzip is not named.
    public static func accepted(by acceptEncoding: String) -> Bool {
        var wildcard: Bool?
        for member in acceptEncoding.split(separator: ",") {
            let parts = member.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let coding = parts.first, !coding.isEmpty else { continue }
            var weight = 1.0
            for parameter in parts.dropFirst() where parameter.hasPrefix("q=") {
                weight = Double(parameter.dropFirst(2)) ?? 0
            }
            switch coding {
            case "gzip", "x-gzip": return weight > 0
            case "*": wildcard = weight > 0
            default: continue
            }
        }
        return wildcard ?? false
    }

    /// A streaming deflater writing one gzip stream: ``compress(_:)`` any number of times, then
    /// ``finish()`` once.
    public final class Deflater {
        private let stream: UnsafeMutablePointer<z_stream>
        private var finished = false

        public init(level: Int32 = Gzip.defaultLevel) {
            stream = .allocate(capacity: 1)
            stream.initialize(to: z_stream())
            let status = butler_deflate_init_gzip(stream, level)
            // Fails only on a bad level or no memory: both programming errors here.
            precondition(status == Z_OK, "zlib deflateInit2 failed (\(status))")
        }

        deinit {
            deflateEnd(stream)
            stream.deallocate()
        }

        /// The compressed bytes `input` yields so far (zlib may hold some back until ``finish()``).
        public func compress(_ input: [UInt8]) -> [UInt8] { run(input, flush: Z_NO_FLUSH) }

        /// The stream's last bytes: what zlib held back, and the gzip trailer.
        public func finish() -> [UInt8] {
            precondition(!finished, "a gzip stream is finished once")
            finished = true
            return run([], flush: Z_FINISH)
        }

        private func run(_ input: [UInt8], flush: Int32) -> [UInt8] {
            var output: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16 << 10)
            input.withUnsafeBufferPointer { source in
                stream.pointee.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
                stream.pointee.avail_in = uInt(source.count)
                repeat {
                    let status = chunk.withUnsafeMutableBufferPointer { buffer in
                        stream.pointee.next_out = buffer.baseAddress
                        stream.pointee.avail_out = uInt(buffer.count)
                        return deflate(stream, flush)
                    }
                    precondition(status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR, "zlib deflate failed (\(status))")
                    output += chunk[0..<(chunk.count - Int(stream.pointee.avail_out))]
                    // Done when zlib took all the input and had output room to spare (or ended).
                    if status == Z_STREAM_END || (stream.pointee.avail_out > 0 && stream.pointee.avail_in == 0) { break }
                } while true
                stream.pointee.next_in = nil
            }
            return output
        }
    }

    /// A streaming, bounded inflater of one gzip stream: ``feed(_:)`` compressed bytes when
    /// ``needsInput``, take inflated bytes from ``next(maxBytes:)`` until it returns `nil`, and
    /// call ``finish()`` when the input has ended.
    ///
    /// Memory stays at the input fed plus one output chunk, whatever the stream claims to hold.
    public final class Inflater {
        /// The most inflated bytes this stream may produce.
        public let limit: Int
        /// Inflated bytes produced so far.
        public private(set) var produced = 0
        /// Compressed bytes fed so far.
        public private(set) var consumed = 0
        /// Whether the gzip stream ended (its trailer read and checked).
        public private(set) var ended = false

        private let stream: UnsafeMutablePointer<z_stream>
        private var input: [UInt8] = []
        private var inputOffset = 0

        public init(limit: Int) {
            self.limit = limit
            stream = .allocate(capacity: 1)
            stream.initialize(to: z_stream())
            let status = butler_inflate_init_gzip(stream)
            precondition(status == Z_OK, "zlib inflateInit2 failed (\(status))")
        }

        deinit {
            inflateEnd(stream)
            stream.deallocate()
        }

        /// Whether every byte fed so far has been inflated: the next ``feed(_:)`` is due.
        public var needsInput: Bool { inputOffset == input.count }

        /// More compressed bytes. Bytes after the stream's end are refused by ``next(maxBytes:)``.
        public func feed(_ bytes: some Collection<UInt8>) {
            if needsInput {
                input = Array(bytes)
                inputOffset = 0
            } else {
                input = Array(input[inputOffset...]) + bytes
                inputOffset = 0
            }
            consumed += bytes.count
        }

        /// Up to `maxBytes` inflated bytes from what was fed, or `nil` when it is all inflated
        /// (feed more, or ``finish()``).
        /// - Throws: `body-too-large` before producing more than ``limit`` in all; `invalid-encoding`
        ///   when the bytes are not gzip, or bytes follow the stream's end.
        public func next(maxBytes: Int = 64 << 10) throws(GzipError) -> [UInt8]? {
            guard !needsInput else { return nil }
            if ended { throw GzipError(.invalidEncoding, "bytes follow the end of the gzip stream") }
            // One byte of room past the limit: producing it proves the stream is too large, and
            // nothing larger than limit + 1 is ever allocated.
            let room = min(maxBytes, limit - produced + 1)
            var output = [UInt8](repeating: 0, count: max(room, 1))
            let status = input.withUnsafeMutableBufferPointer { source in
                output.withUnsafeMutableBufferPointer { target in
                    stream.pointee.next_in = source.baseAddress! + inputOffset
                    stream.pointee.avail_in = uInt(source.count - inputOffset)
                    stream.pointee.next_out = target.baseAddress
                    stream.pointee.avail_out = uInt(target.count)
                    let status = inflate(stream, Z_NO_FLUSH)
                    inputOffset = source.count - Int(stream.pointee.avail_in)
                    stream.pointee.next_in = nil
                    stream.pointee.next_out = nil
                    return status
                }
            }
            let count = output.count - Int(stream.pointee.avail_out)
            switch status {
            case Z_OK, Z_BUF_ERROR:
                break
            case Z_STREAM_END:
                ended = true
            default:
                let reason = stream.pointee.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                throw GzipError(.invalidEncoding, "the body is not a valid gzip stream: \(reason)")
            }
            produced += count
            if produced > limit { throw GzipError(.bodyTooLarge, "the body inflates to more than \(limit) bytes") }
            output.removeLast(output.count - count)
            if count == 0 && status == Z_BUF_ERROR { return nil }
            return output
        }

        /// Checks that the stream ended: a stream cut short is `invalid-encoding`.
        public func finish() throws(GzipError) {
            guard ended else { throw GzipError(.invalidEncoding, "the gzip stream is cut short") }
            guard needsInput else { throw GzipError(.invalidEncoding, "bytes follow the end of the gzip stream") }
        }
    }
}
