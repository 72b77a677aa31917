import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The steps that make a file survive power loss, in one place for the client and the server:
/// write to a temporary file, fsync it, rename it into place, fsync the folder. A reader sees the
/// old name or the whole new file, never part of one; after the folder's fsync the rename is on disk.
///
/// Blocking calls: from async code, run them through ``BlockingIO``.
public enum DurableFile {
    /// Streams `source` into a new temporary file in `temporaryFolder`, hashing as it copies, and
    /// fsyncs it. Returns the temporary file (the caller ``install(_:at:)``s it or deletes it), its
    /// SHA-256 and its size. On any failure the temporary file is gone. With ``Durability/processCrash``
    /// the copy is not fsynced.
    public static func copyHashing(
        _ source: URL, into temporaryFolder: URL, durability: Durability = .powerLoss
    ) throws -> (temporary: URL, sha256: String, size: Int64) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source.path, isDirectory: &isDirectory) else {
            throw FileError(.file, "cannot read \(source.path): no such file")
        }
        guard !isDirectory.boolValue else { throw FileError(.file, "\(source.path) is not a file") }
        let input: FileHandle
        do { input = try FileHandle(forReadingFrom: source) } catch { throw FileError.wrapping(error, "cannot read", source.path) }
        defer { try? input.close() }
        let temporary = temporaryFolder.appendingPathComponent(UUID().uuidString)
        let output = try create(temporary)
        var hasher = StreamingSHA256()
        do {
            defer { try? output.close() }
            while true {
                let chunk: Data
                do { chunk = try input.read(upToCount: StreamingSHA256.chunkSize) ?? Data() } catch {
                    throw FileError.wrapping(error, "cannot read", source.path)
                }
                if chunk.isEmpty { break }
                hasher.update(chunk)
                do { try output.write(contentsOf: chunk) } catch { throw FileError.wrapping(error, "cannot write", temporary.path) }
            }
            if durability.syncsFiles {
                do { try output.synchronize() } catch { throw FileError.wrapping(error, "cannot sync", temporary.path) }
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        return (temporary, hasher.finalize(), hasher.count)
    }

    /// Opens `url` for appending (creating it): where a resumed download goes on.
    public static func appending(_ url: URL) throws -> FileHandle {
        let fd = Glibc.open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError.posix(errno, "cannot write", url.path) }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    /// Creates (truncating) `url` and opens it for writing.
    public static func create(_ url: URL) throws -> FileHandle {
        let fd = Glibc.open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError.posix(errno, "cannot create", url.path) }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    /// Moves the fsynced file `temporary` to `target` and fsyncs the folder, so the new name
    /// survives power loss. Content-addressed files: when `target` already exists, it already holds
    /// these bytes, so `temporary` is deleted and `target` kept. Returns whether `temporary` was moved.
    /// With ``Durability/processCrash`` the folder is not fsynced (the rename is still atomic).
    @discardableResult
    public static func install(_ temporary: URL, at target: URL, durability: Durability = .powerLoss) throws -> Bool {
        if FileManager.default.fileExists(atPath: target.path) {
            try? FileManager.default.removeItem(at: temporary)
            return false
        }
        guard Glibc.rename(temporary.path, target.path) == 0 else {
            let code = errno
            try? FileManager.default.removeItem(at: temporary)
            throw FileError.posix(code, "cannot move \(temporary.lastPathComponent) into", target.deletingLastPathComponent().path)
        }
        if durability.syncsFiles { syncFolder(target.deletingLastPathComponent()) }
        return true
    }

    /// fsyncs a file written by someone else (a download), before it is installed; with
    /// ``Durability/processCrash``, nothing.
    public static func sync(_ url: URL, durability: Durability = .powerLoss) throws {
        guard durability.syncsFiles else { return }
        let file = try OpenFile.writing(url, create: false)
        defer { file.close() }
        try file.sync()
    }

    /// fsyncs a folder, so a rename or a new file in it survives power loss. Best effort: a folder
    /// that cannot be opened has nothing this process could make durable.
    public static func syncFolder(_ folder: URL) {
        let fd = Glibc.open(folder.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = Glibc.fsync(fd)
        Glibc.close(fd)
    }

    /// The size of a regular file, or `nil` when there is none.
    public static func size(_ url: URL) -> Int64? {
        var info = stat()
        guard stat(url.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }
}
