import ButlerFiles
import ButlerModel
import Foundation
import NIOCore

/// Why the blob store refused an upload. Knows nothing of HTTP: the routes map the code to a status.
public typealias BlobError = LayerError<BlobLayer>

/// The blob store's errors (``BlobError``).
public enum BlobLayer: ErrorLayer {}

/// Photo blobs on disk, content-addressed by SHA-256: `blobs/<sha256>` once verified,
/// `blobs/partial/<sha256>` (+ `.length`) while an upload is under way.
///
/// Bytes are written as they arrive (gathered up to 1 MiB per write) and fsynced when the request
/// ends, whether it completed or broke off, so an upload cut at any byte resumes from what the
/// server holds. A blob becomes visible only when the hash of the whole matches its name; on a
/// mismatch the partial data is discarded.
///
/// The actor only guards which blobs are busy (being uploaded or swept) in this process; the
/// partial file's `flock` guards it across server nodes sharing the folder. Every read, write,
/// fsync and hash runs through ``BlockingIO``, outside the actor and off the cooperative pool, so
/// hashing a 512 MiB photo neither blocks other uploads nor the server's tasks.
public actor BlobStore {
    public nonisolated let directory: URL
    /// The largest blob accepted.
    public nonisolated let maxBlobBytes: Int64
    /// Whether received bytes and installed blobs are fsynced (``Durability/powerLoss``, always on
    /// a real server) or only written (``Durability/processCrash``, the simulation's nodes).
    public nonisolated let durability: Durability
    private var uploading: Set<String> = []
    /// Bytes gathered from the body before one write: few large writes, not one per network buffer.
    static let writeSize = 1 << 20

    public init(directory: URL, maxBlobBytes: Int64 = 512 << 20, durability: Durability = .powerLoss) throws {
        self.directory = directory
        self.maxBlobBytes = maxBlobBytes
        self.durability = durability
        do {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent("partial"), withIntermediateDirectories: true)
        } catch {
            throw FileError.wrapping(error, "cannot create the blob folder", directory.path)
        }
    }

    nonisolated func completeURL(_ sha: String) -> URL { directory.appendingPathComponent(sha) }
    /// Where an upload under way keeps its bytes, and the length it announced (fault tests and
    /// the simulation leave here what a server stopped mid-upload leaves).
    public nonisolated func partialURL(_ sha: String) -> URL { directory.appendingPathComponent("partial").appendingPathComponent(sha) }
    public nonisolated func lengthURL(_ sha: String) -> URL { directory.appendingPathComponent("partial").appendingPathComponent(sha + ".length") }

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

    /// Claims `sha` for the sweeper: `false` when an upload holds it.
    private func claimIfFree(_ sha: String) -> Bool { uploading.insert(sha).inserted }

    private func release(_ sha: String) { uploading.remove(sha) }

    /// The upload itself, while this request alone holds `sha`.
    private nonisolated func appendClaimed<Body: AsyncSequence>(
        _ sha: String, offset: Int64, length: Int64, body: Body
    ) async throws -> BlobStatus where Body.Element == ByteBuffer {
        let before = try await status(sha)
        if before.complete { return before }
        let partial = partialURL(sha)
        let lengthFile = lengthURL(sha)
        // The partial file's lock keeps out an upload of the same blob through another node; the
        // status read under it is the one the checks trust.
        let (file, current) = try await BlockingIO.run { () throws -> (OpenFile, BlobStatus) in
            let file = try OpenFile.writing(partial, create: true)
            do {
                guard try file.tryLock() else {
                    throw BlobError(.uploadInProgress, "another upload of \(sha) is running; retry shortly")
                }
                let current = self.readStatus(sha)
                if current.complete {
                    // Installed by another node since: the file just opened is a stray, empty one.
                    if DurableFile.size(partial) == 0 { try? FileManager.default.removeItem(at: partial) }
                    return (file, current)
                }
                if let announced = current.length, announced != length {
                    throw BlobError(.lengthMismatch, "this upload was started with length \(announced), not \(length)")
                }
                guard offset == current.received else {
                    throw BlobError(.offsetMismatch, "the server holds \(current.received) bytes of \(sha); send from there")
                }
                if current.length == nil {
                    do { try String(length).write(to: lengthFile, atomically: true, encoding: .utf8) } catch {
                        throw FileError.wrapping(error, "cannot write", lengthFile.path)
                    }
                }
                return (file, current)
            } catch {
                file.close()
                throw error
            }
        }
        if current.complete {
            try? await BlockingIO.run { file.close() }
            return current
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
            let syncs = durability.syncsFiles
            try await BlockingIO.run {
                if !bytes.isEmpty { try file.write(bytes, at: at) }
                if syncs { try file.sync() }
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
            let syncs = durability.syncsFiles
            try? await BlockingIO.run {
                if !bytes.isEmpty { try? file.write(bytes, at: at) }
                if syncs { try? file.sync() }
                file.close()
            }
            throw error
        }
        guard written == length else {
            try? await BlockingIO.run { file.close() }
            return BlobStatus(sha256: sha, received: written, length: length, complete: false)
        }
        let target = completeURL(sha)
        let durability = durability
        return try await BlockingIO.run {
            // Still under the lock: no other node writes the partial while it is hashed and installed.
            defer { file.close() }
            let (digest, _) = try StreamingSHA256.of(file: partial)
            guard digest == sha else {
                try? FileManager.default.removeItem(at: partial)
                try? FileManager.default.removeItem(at: lengthFile)
                throw BlobError(.hashMismatch, "the uploaded bytes hash to \(digest), not \(sha); the upload was discarded")
            }
            try DurableFile.install(partial, at: target, durability: durability)
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

    /// Deletes a complete blob (the sweeper's job; a blob being uploaded is left alone). The blob
    /// stays claimed while it is deleted, so no upload of it starts meanwhile.
    public func remove(_ sha: String) async {
        guard claimIfFree(sha) else { return }
        let url = completeURL(sha)
        _ = try? await BlockingIO.run { try FileManager.default.removeItem(at: url) }
        release(sha)
    }

    /// Deletes partial uploads untouched since `cutoff`; returns how many. Each is claimed while
    /// it is deleted (an upload running here keeps it), and skipped when its lock is held (an
    /// upload running on another node).
    public nonisolated func removePartials(untouchedSince cutoff: Date) async -> Int {
        let folder = directory.appendingPathComponent("partial")
        let expired = (try? await BlockingIO.run { () -> [String] in
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            return names.filter { name in
                guard Photo.isSHA256(name) else { return false }
                let modified = (try? FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(name).path))?[.modificationDate] as? Date
                return modified.map { $0 < cutoff } ?? false
            }
        }) ?? []
        var removed = 0
        for name in expired {
            guard await claimIfFree(name) else { continue }
            let partial = partialURL(name)
            let lengthFile = lengthURL(name)
            let deleted = (try? await BlockingIO.run { () -> Bool in
                let file = try OpenFile.writing(partial, create: false)
                defer { file.close() }
                guard try file.tryLock() else { return false }
                try? FileManager.default.removeItem(at: partial)
                try? FileManager.default.removeItem(at: lengthFile)
                return true
            }) ?? false
            await release(name)
            if deleted { removed += 1 }
        }
        return removed
    }
}
