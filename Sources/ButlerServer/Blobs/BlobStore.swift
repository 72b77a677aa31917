import ButlerModel
import Crypto
import Foundation
import Hummingbird
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Photo blobs on disk, content-addressed by SHA-256: `blobs/<sha256>` once verified,
/// `blobs/partial/<sha256>` (+ `.length`) while an upload is under way.
///
/// Bytes are written and fsynced as they arrive, so an upload cut at any byte resumes from what
/// the server holds. A blob becomes visible only when the hash of the whole matches its name; on a
/// mismatch the partial data is discarded.
public actor BlobStore {
    public let directory: URL
    /// The largest blob accepted.
    public let maxBlobBytes: Int64
    private var uploading: Set<String> = []

    public init(directory: URL, maxBlobBytes: Int64 = 512 << 20) throws {
        self.directory = directory
        self.maxBlobBytes = maxBlobBytes
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("partial"), withIntermediateDirectories: true)
    }

    nonisolated func completeURL(_ sha: String) -> URL { directory.appendingPathComponent(sha) }
    nonisolated func partialURL(_ sha: String) -> URL { directory.appendingPathComponent("partial").appendingPathComponent(sha) }
    nonisolated func lengthURL(_ sha: String) -> URL { directory.appendingPathComponent("partial").appendingPathComponent(sha + ".length") }

    nonisolated static func size(_ url: URL) -> Int64? {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.int64Value
    }

    /// How much of `sha` is held.
    public func status(_ sha: String) -> BlobStatus {
        if let size = Self.size(completeURL(sha)) { return BlobStatus(sha256: sha, received: size, length: size, complete: true) }
        let length = (try? String(contentsOf: lengthURL(sha), encoding: .utf8)).flatMap { Int64($0) }
        return BlobStatus(sha256: sha, received: Self.size(partialURL(sha)) ?? 0, length: length, complete: false)
    }

    /// The size of a complete blob, or `nil`.
    public nonisolated func completeSize(_ sha: String) -> Int64? { Self.size(completeURL(sha)) }

    /// Appends the bytes of `body` at `offset` to the upload of `sha` whose whole size is `length`.
    ///
    /// - Throws: ``APIError`` `offset-mismatch` (409, the client should ask for the status again),
    ///   `length-mismatch` (409), `upload-in-progress` (409), `blob-too-large` (413),
    ///   `chunk-too-large` (400) when the body runs past `length`, `hash-mismatch` (422).
    public func append(_ sha: String, offset: Int64, length: Int64, body: RequestBody) async throws -> BlobStatus {
        let current = status(sha)
        if current.complete { return current }
        guard length >= 0, length <= maxBlobBytes else {
            throw APIError(.contentTooLarge, .blobTooLarge, "a photo may be at most \(maxBlobBytes) bytes")
        }
        if let announced = current.length, announced != length {
            throw APIError(.conflict, .lengthMismatch, "this upload was started with length \(announced), not \(length)")
        }
        guard offset == current.received else {
            throw APIError(.conflict, .offsetMismatch, "the server holds \(current.received) bytes of \(sha); send from there")
        }
        guard uploading.insert(sha).inserted else {
            throw APIError(.conflict, .uploadInProgress, "another upload of \(sha) is running; retry shortly")
        }
        defer { uploading.remove(sha) }
        let partial = partialURL(sha)
        if current.length == nil {
            try String(length).write(to: lengthURL(sha), atomically: true, encoding: .utf8)
            FileManager.default.createFile(atPath: partial.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: partial)
        var written = offset
        do {
            try handle.seek(toOffset: UInt64(offset))
            for try await buffer in body {
                guard written + Int64(buffer.readableBytes) <= length else {
                    try handle.truncate(atOffset: UInt64(offset))
                    throw APIError(.badRequest, .chunkTooLarge, "the chunk runs past the announced length \(length)")
                }
                try handle.write(contentsOf: buffer.readableBytesView)
                written += Int64(buffer.readableBytes)
            }
            try handle.synchronize()
            try handle.close()
        } catch {
            // Keep (and make durable) what arrived: the client resumes from here.
            try? handle.synchronize()
            try? handle.close()
            throw error
        }
        guard written == length else {
            return BlobStatus(sha256: sha, received: written, length: length, complete: false)
        }
        let digest = try Self.sha256(of: partial)
        guard digest == sha else {
            try? FileManager.default.removeItem(at: partial)
            try? FileManager.default.removeItem(at: lengthURL(sha))
            throw APIError(.unprocessableContent, .hashMismatch, "the uploaded bytes hash to \(digest), not \(sha); the upload was discarded")
        }
        guard Glibc.rename(partial.path, completeURL(sha).path) == 0 else {
            throw APIError.internalError()
        }
        try? FileManager.default.removeItem(at: lengthURL(sha))
        let fd = Glibc.open(directory.path, O_RDONLY)
        if fd >= 0 {
            _ = Glibc.fsync(fd)
            Glibc.close(fd)
        }
        return BlobStatus(sha256: sha, received: length, length: length, complete: true)
    }

    /// Deletes a complete blob (the sweeper's job; a blob being uploaded is left alone).
    public func remove(_ sha: String) {
        guard !uploading.contains(sha) else { return }
        try? FileManager.default.removeItem(at: completeURL(sha))
    }

    /// Deletes partial uploads untouched since `cutoff`; returns how many.
    public func removePartials(untouchedSince cutoff: Date) -> Int {
        let folder = directory.appendingPathComponent("partial")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        var removed = 0
        for name in names where Photo.isSHA256(name) && !uploading.contains(name) {
            let url = folder.appendingPathComponent(name)
            guard let modified = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date, modified < cutoff else { continue }
            try? FileManager.default.removeItem(at: url)
            try? FileManager.default.removeItem(at: lengthURL(name))
            removed += 1
        }
        return removed
    }

    static func sha256(of file: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        var hasher = Crypto.SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return SHA256Hasher.hexString(Array(hasher.finalize()))
    }
}
