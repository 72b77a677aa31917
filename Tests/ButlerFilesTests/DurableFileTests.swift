import ButlerFiles
import ButlerModel
import Foundation
import Testing

@Suite struct DurableFileTests {
    static func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("butler-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("copyHashing streams a file into a temporary one with the model's SHA-256, and install puts it in place once")
    func copyAndInstall() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("photo.jpg")
        // Larger than one read chunk, so the streaming path is exercised.
        let bytes = (0..<(StreamingSHA256.chunkSize + 12_345)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(bytes).write(to: source)
        let copy = try DurableFile.copyHashing(source, into: dir)
        #expect(copy.sha256 == SHA256Hasher.hex(of: bytes))
        #expect(copy.size == Int64(bytes.count))
        #expect(try StreamingSHA256.of(file: source) == (copy.sha256, copy.size))
        let target = dir.appendingPathComponent(copy.sha256)
        #expect(try DurableFile.install(copy.temporary, at: target))
        #expect(try Data(contentsOf: target) == Data(bytes))
        #expect(!FileManager.default.fileExists(atPath: copy.temporary.path))
        // The same content again: the stored file is kept, the new temporary one removed.
        let again = try DurableFile.copyHashing(source, into: dir)
        #expect(try !DurableFile.install(again.temporary, at: target))
        #expect(!FileManager.default.fileExists(atPath: again.temporary.path))
        #expect(DurableFile.size(target) == Int64(bytes.count))
    }

    @Test("a missing file or a folder is a file-error naming the path, and nothing is left behind")
    func badSources() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        for source in [dir.appendingPathComponent("absent.jpg"), dir] {
            #expect {
                try DurableFile.copyHashing(source, into: dir)
            } throws: { error in
                (error as? FileError)?.code == .file && (error as? FileError)?.message.contains(source.path) == true
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test("a full disk is recognised from errno, from Foundation's errors and from a FileError")
    func diskFull() {
        #expect(FileError.posix(ENOSPC, "cannot write", "/x").code == .storageFull)
        #expect(FileError.posix(EACCES, "cannot write", "/x").code == .file)
        #expect(FileError.isDiskFull(CocoaError(.fileWriteOutOfSpace)))
        #expect(FileError.isDiskFull(NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))))
        let wrapped = NSError(domain: NSCocoaErrorDomain, code: 512, userInfo: [NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))])
        #expect(FileError.isDiskFull(wrapped))
        #expect(!FileError.isDiskFull(NSError(domain: NSPOSIXErrorDomain, code: Int(EIO))))
    }

    @Test("positional reads and writes through BlockingIO, off the cooperative pool")
    func openFile() async throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("partial")
        let file = try await BlockingIO.run { try OpenFile.writing(url, create: true) }
        try await BlockingIO.run {
            try file.write(Array("hello ".utf8), at: 0)
            try file.write(Array("world".utf8), at: 6)
            try file.sync()
            try file.truncate(to: 8)
            file.close()
        }
        let reader = try OpenFile.reading(url)
        defer { reader.close() }
        #expect(try reader.read(100, at: 0) == Array("hello wo".utf8))
        #expect(try reader.read(3, at: 6) == Array("wo".utf8))
    }
}
