import ButlerModel
import Crypto
import Foundation

/// SHA-256 over bytes that arrive in pieces (swift-crypto), as lower-case hex: how both sides name
/// a photo blob. Never needs the whole file in memory.
public struct StreamingSHA256 {
    private var hasher = Crypto.SHA256()
    /// Bytes hashed so far.
    public private(set) var count: Int64 = 0

    public init() {}

    public mutating func update(_ bytes: some DataProtocol) {
        hasher.update(data: bytes)
        count += Int64(bytes.count)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: bytes)
        count += Int64(bytes.count)
    }

    /// The digest as 64 lower-case hex digits.
    public func finalize() -> String { SHA256Hasher.hexString(Array(hasher.finalize())) }

    /// Bytes read at a time from a file: a photo is never read whole into memory.
    public static let chunkSize = 1 << 20

    /// The SHA-256 and size of a file, read in ``chunkSize`` pieces (blocking: call it through
    /// ``BlockingIO`` from async code).
    public static func of(file: URL) throws -> (sha256: String, size: Int64) {
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: file) } catch { throw FileError.wrapping(error, "cannot read", file.path) }
        defer { try? handle.close() }
        var hasher = StreamingSHA256()
        do {
            while let chunk = try handle.read(upToCount: chunkSize), !chunk.isEmpty { hasher.update(chunk) }
        } catch {
            throw FileError.wrapping(error, "cannot read", file.path)
        }
        return (hasher.finalize(), hasher.count)
    }
}
