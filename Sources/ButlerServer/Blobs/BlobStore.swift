import ButlerFiles
import ButlerModel
import Foundation
import NIOCore

/// Why the blob store refused an upload. Knows nothing of HTTP: the routes map ``code`` to a status.
public struct BlobError: CodedError {
    public let code: ErrorCode
    public let message: String
    public var cause: (any Error & Sendable)? { nil }

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// Photo blobs on disk, content-addressed by SHA-256: `blobs/<sha256>` once verified,
/// `blobs/partial/<sha256>` (+ `.length`) while an upload is under way.
///
/// Bytes are written and fsynced as they arrive, so an upload cut at any byte resumes from what
/// the server holds. A blob becomes visible only when the hash of the whole matches its name; on a
/// mismatch the partial data is discarded.
///
/// The actor only guards which uploads are running; every read, write, fsync and hash runs through
/// ``BlockingIO``, outside the actor and off the cooperative pool, so hashing a 512 MiB photo
/// neither blocks other uploads nor the server's tasks.
public actor BlobStore {
    public nonisolated let directory: URL
    /// The largest blob accepted.
    public nonisolated let maxBlobBytes: Int64
    private var uploading: Set<String> = []
    /// Bytes gathered from the body before one write: few large writes, not one per network buffer.
    static let writeSize = 1 << 20

    public init(directory: URL, maxBlobBytes: Int64 = 512 << 20) throws {
        self.directory = directory
        self.maxBlobBytes = maxBlobBytes
        do {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent("partial"), withIntermediateDirectories: true)
        } catch {
            throw FileError.wrapping(error, "cannot create the blob folder", directory.path)
        }
    }

    nonisolated func completeURL(_ sha: String) -> URL { directory.appendingPathComponent(sha) }
    nonisolated func partialURL(_ sha: String) -> URL { directory.appendingPathComponent("partial").appendingPathComponent(sha) }
    nonisolated func lengthURL(_ sha: String) -> URL { directory.appendingPathComponent("partial").appendingPathComponent(sha + ".length") }

    /// How much of `sha` is held.
    public nonisolated func status(_ sha: String) async throws -> BlobStatus {
        try await BlockingIO.run { self.readStatus(sha) }
    }

    nonisolated func readStatus(_ sha: String) -> BlobStatus {
        if let size = DurableFile.size(completeURL(sha)) { return BlobStatus(sha256: sha, received: size, length: size, complete: true) }
        let length = (try? String(contentsOf: lengthURL(sha), encoding: .utf8)).flatMap { Int64($0) }
        return BlobStatus(sha256: sha, received: DurableFile.size(partialURL(sha)) ?? 0, length: length, complete: false)
    }

    /// The size of a complete blob, or `nil`.
    public nonisolated func completeSize(_ sha: String) async throws -> Int64? {
        try await BlockingIO.run { DurableFile.size(self.completeURL(sha)) }
    }

    /// Appends the bytes of `body` at `offset` to the upload of `sha` whose whole size is `length`.
    ///
    /// - Throws: ``BlobError`` `offset-mismatch` (ask for the status again), `length-mismatch`,
    ///   `upload-in-progress`, `blob-too-large`, `chunk-too-large` when the body runs past
    ///   `length`, `hash-mismatch`; a ``FileError`` (`storage-full` when the disk is) or the body's
    ///   own error when the transfer breaks — what arrived before is kept.
    public nonisolated func append<Body: AsyncSequence>(
        _ sha: String, offset: Int64, length: Int64, body: Body
    ) async throws -> BlobStatus where Body.Element == ByteBuffer {
        guard length >= 0, length <= maxBlobBytes else {
            throw BlobError(.blobTooLarge, "a photo may be at most \(maxBlobBytes) bytes")
        }
        try await claim(sha)
        do {
            let status = try await appendClaimed(sha, offset: offset, length: length, body: body)
            await release(sha)
            return status
        } catch {
            await release(sha)
            throw error
        }
    }

    private func claim(_ sha: String) throws {
        guard uploading.insert(sha).inserted else {
            throw BlobError(.uploadInProgress, "another upload of \(sha) is running; retry shortly")
        }
    }

    private func release(_ sha: String) { uploading.remove(sha) }

    /// The upload itself, while this request alone holds `sha`.
    private nonisolated func appendClaimed<Body: AsyncSequence>(
        _ sha: String, offset: Int64, length: Int64, body: Body
    ) async throws -> BlobStatus where Body.Element == ByteBuffer {
        let current = try await status(sha)
        if current.complete { return current }
        if let announced = current.length, announced != length {
            throw BlobError(.lengthMismatch, "this upload was started with length \(announced), not \(length)")
        }
        guard offset == current.received else {
            throw BlobError(.offsetMismatch, "the server holds \(current.received) bytes of \(sha); send from there")
        }
        let partial = partialURL(sha)
        let lengthFile = lengthURL(sha)
        let file = try await BlockingIO.run {
            if current.length == nil {
                do { try String(length).write(to: lengthFile, atomically: true, encoding: .utf8) } catch {
                    throw FileError.wrapping(error, "cannot write", lengthFile.path)
                }
            }
            return try OpenFile.writing(partial, create: true)
        }
        var written = offset
        var pending: [UInt8] = []
        pending.reserveCapacity(Self.writeSize)
        do {
            for try await buffer in body {
                guard written + Int64(pending.count) + Int64(buffer.readableBytes) <= length else {
                    try await BlockingIO.run { try file.truncate(to: offset) }
                    throw BlobError(.chunkTooLarge, "the chunk runs past the announced length \(length)")
                }
                pending.append(contentsOf: buffer.readableBytesView)
                if pending.count >= Self.writeSize {
                    let bytes = pending
                    let at = written
                    try await BlockingIO.run { try file.write(bytes, at: at) }
                    written += Int64(bytes.count)
                    pending.removeAll(keepingCapacity: true)
                }
            }
            let bytes = pending
            let at = written
            try await BlockingIO.run {
                if !bytes.isEmpty { try file.write(bytes, at: at) }
                try file.sync()
                file.close()
            }
            written += Int64(bytes.count)
        } catch let error as BlobError {
            try? await BlockingIO.run { file.close() }
            throw error
        } catch {
            // The transfer broke: keep (and make durable) every byte that arrived, so the client
            // resumes from there.
            let bytes = pending
            let at = written
            try? await BlockingIO.run {
                if !bytes.isEmpty { try? file.write(bytes, at: at) }
                try? file.sync()
                file.close()
            }
            throw error
        }
        guard written == length else {
            return BlobStatus(sha256: sha, received: written, length: length, complete: false)
        }
        let target = completeURL(sha)
        return try await BlockingIO.run {
            let (digest, _) = try StreamingSHA256.of(file: partial)
            guard digest == sha else {
                try? FileManager.default.removeItem(at: partial)
                try? FileManager.default.removeItem(at: lengthFile)
                throw BlobError(.hashMismatch, "the uploaded bytes hash to \(digest), not \(sha); the upload was discarded")
            }
            try DurableFile.install(partial, at: target)
            try? FileManager.default.removeItem(at: lengthFile)
            return BlobStatus(sha256: sha, received: length, length: length, complete: true)
        }
    }

    /// Reads `count` bytes of a complete blob from `offset`, in pieces of at most `chunk` bytes
    /// handed to `deliver` (the download route writes each to the response).
    public nonisolated func read(
        _ sha: String, from offset: Int64, count: Int64, chunk: Int = StreamingSHA256.chunkSize, deliver: ([UInt8]) async throws -> Void
    ) async throws -> Int64 {
        let url = completeURL(sha)
        let file = try await BlockingIO.run { try OpenFile.reading(url) }
        var sent: Int64 = 0
        do {
            while sent < count {
                let want = Int(min(Int64(chunk), count - sent))
                let at = offset + sent
                let bytes = try await BlockingIO.run { try file.read(want, at: at) }
                if bytes.isEmpty { break }
                try await deliver(bytes)
                sent += Int64(bytes.count)
            }
        } catch {
            file.close()
            throw error
        }
        file.close()
        return sent
    }

    /// Deletes a complete blob (the sweeper's job; a blob being uploaded is left alone).
    public func remove(_ sha: String) async {
        guard !uploading.contains(sha) else { return }
        let url = completeURL(sha)
        _ = try? await BlockingIO.run { try FileManager.default.removeItem(at: url) }
    }

    /// Deletes partial uploads untouched since `cutoff`; returns how many.
    public func removePartials(untouchedSince cutoff: Date) async -> Int {
        let folder = directory.appendingPathComponent("partial")
        let busy = uploading
        let store = self
        return (try? await BlockingIO.run { () -> Int in
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            var removed = 0
            for name in names where Photo.isSHA256(name) && !busy.contains(name) {
                let url = folder.appendingPathComponent(name)
                guard let modified = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date, modified < cutoff
                else { continue }
                try? FileManager.default.removeItem(at: url)
                try? FileManager.default.removeItem(at: store.lengthURL(name))
                removed += 1
            }
            return removed
        }) ?? 0
    }
}
