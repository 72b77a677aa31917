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
            let copy = try DurableFile.copyHashing(file, into: blobDirectory.appendingPathComponent("tmp"), durability: durability)
            try DurableFile.install(copy.temporary, at: blobURL(copy.sha256), durability: durability)
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

    /// Notes an imported blob for upload (a blob known missing becomes local again).
    static func registerBlob(_ db: Database, sha256: String, size: Int64, mediaType: String) throws {
        try db.execute(
            sql: "INSERT INTO blobs (sha256, size, media_type, state) VALUES (?, ?, ?, 'local') ON CONFLICT(sha256) DO UPDATE SET size = excluded.size, media_type = excluded.media_type, state = CASE WHEN blobs.state = 'missing' THEN 'local' ELSE blobs.state END",
            arguments: [sha256, size, mediaType])
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
            try Self.registerBlob(db, sha256: sha, size: size, mediaType: mediaType)
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

    /// Detaches a photo from a form: from `item`, or from every item that shows it (and from the
    /// form as a whole) when `item` is `nil`, together with the photo record's matching
    /// attachments, in one transaction. An attach made concurrently on another device keeps the
    /// photo (add-wins). The server accepts a butler's detach only of photos this device attached
    /// (a supervisor's of any); otherwise the edit is refused with `role-forbidden` and listed by
    /// `butler refused list`.
    ///
    /// - Throws: `unknown-record` (no such form here), `unknown-item`, `invalid-value` when the
    ///   photo is not attached where asked, `form-submitted` once the form is submitted.
    public func detachPhoto(form: RecordID, sha256: String, item: String? = nil) throws {
        guard Photo.isSHA256(sha256) else { throw ClientError(.invalidArgument, "a photo is named by its SHA-256: 64 lower-case hex digits") }
        guard let formState = try record(form), formState.type == .inspectionForm else {
            throw ClientError(.unknownRecord, "no form \(form) on this device")
        }
        if let item, let template = template(of: formState), template.item(item) == nil {
            throw ClientError(.unknownItem, "template \(template.id) has no item \"\(item)\"")
        }
        let photoID = try Photo.recordID(sha256: sha256, zone: formState.zone)
        let items = item.map { [$0] } ?? InspectionForm.items(holding: sha256, in: formState)
        let wholeForm = try item == nil && (try record(photoID)).map { photo in
            !photo.siblings(try FieldPath("attachments", form.rawValue, Photo.wholeRecord)).isEmpty
        } ?? false
        guard !items.isEmpty || wholeForm else {
            throw ClientError(.invalidValue, "photo \(sha256) is not attached to \(item.map { "item \($0) of " } ?? "")form \(form)")
        }
        try write { db in
            for item in items {
                try self.edit(db, form) { state, stamp, _ in
                    (try InspectionForm.detachPhoto(&state, item: item, sha256: sha256, stamp: stamp), ())
                }
            }
            guard try self.loadRecord(db, photoID) != nil else { return }
            try self.edit(db, photoID) { state, stamp, _ in
                var delta = RecordState(id: state.id, type: .photo, zone: state.zone)
                for place in items.map(Optional.some) + (wholeForm ? [nil] : []) {
                    try delta.merge(try Photo.detach(&state, from: form, item: place, stamp: stamp))
                }
                return (delta, ())
            }
        }
    }
}
