import ButlerFiles
import ButlerModel
import Foundation
import GRDB

extension ClientError {
    /// Runs `body`, reporting any failure as a client error: a ``ClientError`` as it is, a
    /// ``ModelError`` with the same code and message, anything else (SQLite, the file system)
    /// through ``wrap(_:_:)`` with `context` — so a full disk is `storage-full` wherever it strikes.
    ///
    /// ```swift
    /// try ClientError.mapping("the local database refused the change") { try writer.write(body) }
    /// ```
    ///
    /// - Parameter context: what was being done, in the butler's words; the message starts with it.
    static func mapping<T>(_ context: @autoclosure () -> String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw mapped(error, context()) }
    }

    /// ``mapping(_:_:)`` for async work.
    static func mapping<T>(_ context: @autoclosure () -> String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw mapped(error, context()) }
    }

    /// A ``ClientError`` as it is, a ``ModelError`` with the same code and message, anything else
    /// through ``wrap(_:_:)``.
    static func mapped(_ error: any Error, _ context: @autoclosure () -> String) -> ClientError {
        switch error {
        case let error as ClientError: error
        case let error as ModelError: ClientError(error)
        default: wrap(error, context())
        }
    }

    /// Maps a database or file-system error to a client error, recognising a full disk.
    static func wrap(_ error: any Error, _ context: String) -> ClientError {
        if let db = error as? DatabaseError {
            if db.resultCode == .SQLITE_FULL {
                return ClientError(.storageFull, "\(context): the disk is full; free space and try again", cause: db)
            }
            return ClientError(.database, "\(context): \(db.message ?? db.description)", cause: db)
        }
        if FileError.isDiskFull(error) {
            return ClientError(.storageFull, "\(context): the disk is full; free space and try again", cause: error)
        }
        // A file error already names what it did to which path.
        if let error = error as? FileError { return ClientError(error) }
        return ClientError(.file, "\(context): \(error.localizedDescription)")
    }
}
