import ButlerModel
import Crypto
import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// Photos: imported by streaming through SHA-256 into the blob folder, stored once per hash.
extension ClientStore {
    /// Bytes read at a time when importing or uploading; a photo is never read whole into memory.
    static let chunkSize = 1 << 20

    /// The file of a blob held on this device.
    public func blobURL(_ sha256: String) -> URL {
        blobDirectory.appendingPathComponent(sha256)
    }

    /// Copies `file` into the blob folder under its SHA-256 (temp file, fsync, rename, fsync of the
    /// folder) and returns the hash and size. Importing the same picture again stores nothing new.
    public func importBlob(_ file: URL) throws -> (sha256: String, size: Int64) {
        let input: FileHandle
        do { input = try FileHandle(forReadingFrom: file) } catch {
            throw ClientError(.file, "cannot read \(file.path): \(error.localizedDescription)")
        }
        defer { try? input.close() }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw ClientError(.file, "\(file.path) is not a file")
        }
        let temp = blobDirectory.appendingPathComponent("tmp").appendingPathComponent(UUID().uuidString)
        guard FileManager.default.createFile(atPath: temp.path, contents: nil) else {
            throw ClientError(.file, "cannot create \(temp.path) (is the disk full?)")
        }
        var hasher = Crypto.SHA256()
        var size: Int64 = 0
        do {
            let output = try FileHandle(forWritingTo: temp)
            defer { try? output.close() }
            while let chunk = try input.read(upToCount: Self.chunkSize), !chunk.isEmpty {
                hasher.update(data: chunk)
                try output.write(contentsOf: chunk)
                size += Int64(chunk.count)
            }
            try output.synchronize()
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw ClientError.wrap(error, "cannot copy \(file.lastPathComponent) into the photo store")
        }
        let sha = hasher.finalize().hex
        let target = blobURL(sha)
        if FileManager.default.fileExists(atPath: target.path) {
            try? FileManager.default.removeItem(at: temp)
        } else {
            guard Glibc.rename(temp.path, target.path) == 0 else {
                let code = errno
                try? FileManager.default.removeItem(at: temp)
                throw ClientError(code == ENOSPC ? .storageFull : .file, "cannot store photo \(sha): \(String(cString: strerror(code)))")
            }
            Self.syncDirectory(blobDirectory)
        }
        return (sha, size)
    }

    /// fsyncs a directory so a rename in it survives power loss.
    static func syncDirectory(_ directory: URL) {
        let fd = Glibc.open(directory.path, O_RDONLY)
        guard fd >= 0 else { return }
        _ = Glibc.fsync(fd)
        Glibc.close(fd)
    }

    static func mediaType(of file: URL) -> String {
        switch file.pathExtension.lowercased() {
        case "jpg", "jpeg": "image/jpeg"
        case "png": "image/png"
        case "heic", "heif": "image/heic"
        case "webp": "image/webp"
        default: "application/octet-stream"
        }
    }

    /// Attaches a photo to a form (to one checklist item, or to the whole form): imports the blob,
    /// records the photo's metadata and attachment, and attaches it to the item, in one
    /// transaction. Returns the photo's SHA-256.
    @discardableResult
    public func attachPhoto(form: RecordID, file: URL, item: String? = nil, caption: String? = nil) throws -> String {
        guard let formState = try record(form), formState.type == .inspectionForm else {
            throw ClientError(.unknownRecord, "no form \(form) on this device")
        }
        if let item, let template = template(of: formState), template.item(item) == nil {
            throw ClientError(.unknownItem, "template \(template.id) has no item \"\(item)\"")
        }
        // Refuse before copying bytes when the form is locked.
        do {
            if try InspectionForm.status(of: formState).state >= .submitted {
                throw ModelError(.formSubmitted, "form \(form) is submitted; reopen it before adding photos")
            }
        } catch let error as ModelError { throw ClientError(error) }
        let (sha, size) = try importBlob(file)
        let mediaType = Self.mediaType(of: file)
        let takenAt = (try? FileManager.default.attributesOfItem(atPath: file.path)[.modificationDate] as? Date) ?? clock.now()
        try write { db in
            try db.execute(
                sql: "INSERT INTO blobs (sha256, size, media_type, state) VALUES (?, ?, ?, 'local') ON CONFLICT(sha256) DO UPDATE SET size = excluded.size, media_type = excluded.media_type, state = CASE WHEN blobs.state = 'missing' THEN 'local' ELSE blobs.state END",
                arguments: [sha, size, mediaType])
            if let item {
                try self.edit(db, form) { state, stamp, _ in
                    (try InspectionForm.attachPhoto(&state, item: item, sha256: sha, template: self.template(of: state), stamp: stamp), ())
                }
            }
            let photoID = try Photo.recordID(sha256: sha, zone: formState.zone)
            try self.edit(db, photoID, create: (.photo, formState.zone)) { state, stamp, _ in
                (try Photo.record(&state, sha256: sha, bytes: size, mediaType: mediaType, takenAt: takenAt, caption: caption, attachTo: form, item: item, stamp: stamp), ())
            }
        }
        return sha
    }
}
