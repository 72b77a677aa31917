import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An open file descriptor with positional reads and writes, errors as ``FileError``. A plain
/// value (the descriptor number and the path), so it can be handed to ``BlockingIO`` work; the
/// owner closes it exactly once.
public struct OpenFile: Sendable {
    public let descriptor: Int32
    public let path: String

    /// Opens `url` for reading.
    public static func reading(_ url: URL) throws -> OpenFile {
        let fd = Glibc.open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.posix(errno, "cannot read", url.path) }
        return OpenFile(descriptor: fd, path: url.path)
    }

    /// Opens `url` for writing, creating it when `create` is set.
    public static func writing(_ url: URL, create: Bool) throws -> OpenFile {
        let fd = Glibc.open(url.path, O_WRONLY | O_CLOEXEC | (create ? O_CREAT : 0), 0o644)
        guard fd >= 0 else { throw FileError.posix(errno, "cannot open", url.path) }
        return OpenFile(descriptor: fd, path: url.path)
    }

    /// Writes all of `bytes` at `offset`.
    public func write(_ bytes: [UInt8], at offset: Int64) throws {
        try bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = Glibc.pwrite(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileError.posix(errno, "cannot write", path)
                }
                done += n
            }
        }
    }

    /// Reads up to `count` bytes at `offset`; fewer only at the end of the file.
    public func read(_ count: Int, at offset: Int64) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let read = try bytes.withUnsafeMutableBytes { buffer -> Int in
            var done = 0
            while done < count {
                let n = Glibc.pread(descriptor, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileError.posix(errno, "cannot read", path)
                }
                if n == 0 { break }
                done += n
            }
            return done
        }
        bytes.removeLast(count - read)
        return bytes
    }

    /// Cuts the file to `size` bytes.
    public func truncate(to size: Int64) throws {
        guard Glibc.ftruncate(descriptor, off_t(size)) == 0 else { throw FileError.posix(errno, "cannot truncate", path) }
    }

    /// Takes the file's exclusive lock without waiting; `false` when another process (another
    /// server node sharing the folder) or another descriptor holds it. Released by ``close()``.
    public func tryLock() throws -> Bool {
        if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { return true }
        if errno == EWOULDBLOCK { return false }
        throw FileError.posix(errno, "cannot lock", path)
    }

    /// Flushes the file's bytes to the disk.
    public func sync() throws {
        guard Glibc.fsync(descriptor) == 0 else { throw FileError.posix(errno, "cannot sync", path) }
    }

    public func close() { _ = Glibc.close(descriptor) }
}
