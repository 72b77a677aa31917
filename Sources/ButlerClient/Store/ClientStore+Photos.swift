import ButlerModel
import ButlerFiles
import Foundation
import GRDB

/// Photos: imported by streaming through SHA-256 into the blob folder, stored once per hash.
extension ClientStore {
    /// The file of a blob held on this device.
    public func blobURL(_ sha256: String) -> URL {
        blobDirectory.appendingPathComponent(sha256)
    }

    /// Copies `file` into the blob folder under its SHA-256 (``DurableFile``: temp file, fsync,
    /// rename, fsync of the folder) and returns the hash and size. Importing the same picture again
    /// stores nothing new.
    public func importBlob(_ file: URL) throws -> (sha256: String, size: Int64) {
        try ClientError.mapping("cannot copy \(file.lastPathComponent) into the photo store") {
            let copy = try DurableFile.copyHashing(file, into: blobDirectory.appendingPathComponent("tmp"))
            try DurableFile.install(copy.temporary, at: blobURL(copy.sha256))
            return (copy.sha256, copy.size)
        }
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
