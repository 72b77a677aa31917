import ButlerModel
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A file-system failure: `storage-full` when the disk is full, `file-error` otherwise, with the
/// path and the system's reason in the message.
public typealias FileError = LayerError<FileLayer>

/// The file helpers' errors (``FileError``).
public enum FileLayer: ErrorLayer {}

extension FileError {
    /// The failure of a system call on `path`, from `errno`.
    public static func posix(_ errno: Int32, _ doing: String, _ path: String) -> FileError {
        FileError(errno == ENOSPC || errno == EDQUOT ? .storageFull : .file, "\(doing) \(path): \(String(cString: strerror(errno)))")
    }

    /// Any error of Foundation's file APIs while `doing` something to `path`, with a full disk recognised.
    public static func wrapping(_ error: any Error, _ doing: String, _ path: String) -> FileError {
        if let error = error as? FileError { return error }
        return FileError(isDiskFull(error) ? .storageFull : .file, "\(doing) \(path): \(error.localizedDescription)")
    }

    /// Whether `error` says the disk is full: `ENOSPC`/`EDQUOT` from a system call or inside a
    /// Foundation error, Foundation's out-of-space code, or a ``FileError`` saying so. (SQLite's
    /// `SQLITE_FULL` is recognised by the stores that use SQLite.)
    public static func isDiskFull(_ error: any Error) -> Bool {
        if let error = error as? FileError { return error.code == .storageFull }
        if let cocoa = error as? CocoaError, cocoa.code == .fileWriteOutOfSpace { return true }
        let ns = error as NSError
        func full(_ e: NSError?) -> Bool { e?.domain == NSPOSIXErrorDomain && (e?.code == Int(ENOSPC) || e?.code == Int(EDQUOT)) }
        return full(ns) || full(ns.userInfo[NSUnderlyingErrorKey] as? NSError)
    }
}
