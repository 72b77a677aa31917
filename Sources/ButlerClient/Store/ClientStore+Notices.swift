import ButlerModel
import Foundation
import GRDB

/// Rectification notices (问题整改通知单, 001 §4.3.1.1): raised from a defect on a form, followed up
/// with evidence photos before and after, resolved by the butler and verified by a supervisor.
///
/// A notice is named by its ``RectificationNotice/Reference`` (`<form id>/<notice id>`, what
/// ``raiseNotice(form:item:party:description:deadline:)`` returns); a bare notice id is accepted
/// too when exactly one form on this device has it.
extension ClientStore {
    /// The deadline `text` names: a day `yyyy-MM-dd` (the end of that day in the estate's time
    /// zone) or a full ISO 8601 time.
    ///
    /// - Throws: ``ClientError`` `invalid-value` for anything else.
    public func noticeDeadline(_ text: String) throws -> Date {
        let calendar = try estateCalendar()
        return try ClientError.mapping { try RectificationNotice.deadline(text, calendar: calendar) }
    }

    /// Raises a rectification notice from the defect recorded on `item` of `form`; returns how
    /// commands name it.
    ///
    /// - Throws: `unknown-record` (no such form here), `unknown-item` (not in the form's
    ///   template), `invalid-value` (the item is not a defect, or the deadline has passed),
    ///   `form-submitted` (reopen the form first); nothing is queued then.
    public func raiseNotice(
        form: RecordID, item: String, party: ResponsibleParty, description: String?, deadline: Date
    ) throws -> RectificationNotice.Reference {
        guard let state = try record(form), state.type == .inspectionForm else {
            throw ClientError(.unknownRecord, "no form \(form) on this device")
        }
        let id = try ClientError.mapping { try addNotice(form: form, item: item, party: party, description: description, deadline: deadline) }
        return RectificationNotice.Reference(form: state.id, notice: id)
    }

    /// The notice `reference` names, with its form.
    ///
    /// - Throws: `unknown-record` when no form here has it (or, for a bare id, when several do:
    ///   the message lists them).
    public func notice(_ reference: String) throws -> (form: InspectionForm, notice: RectificationNotice) {
        if reference.contains("/") {
            let ref = try ClientError.mapping { try RectificationNotice.Reference(reference) }
            guard let state = try record(ref.form), state.type == .inspectionForm else {
                throw ClientError(.unknownRecord, "no form \(ref.form) on this device")
            }
            let form = try ClientError.mapping { try InspectionForm(state) }
            guard let notice = form.notices.first(where: { $0.id == ref.notice }) else {
                throw ClientError(.unknownRecord, "form \(ref.form) has no rectification notice \(ref.notice)")
            }
            return (form, notice)
        }
        let found = try notices().filter { $0.notice.id == reference }
        guard found.count == 1 else {
            throw ClientError(
                .unknownRecord,
                found.isEmpty
                    ? "no rectification notice \(reference) on this device"
                    : "\(found.count) forms have a notice \(reference); name one as <form id>/<notice id>: "
                        + found.map { RectificationNotice.Reference(form: $0.form.id, notice: $0.notice.id).description }.joined(separator: ", "))
        }
        return found[0]
    }

    /// Every rectification notice on this device with its form, by deadline (then reference).
    public func notices() throws -> [(form: InspectionForm, notice: RectificationNotice)] {
        try forms().flatMap { form in form.notices.map { (form: form, notice: $0) } }.sorted { a, b in
            (a.notice.deadline ?? .distantFuture, a.form.id.rawValue, a.notice.id) < (b.notice.deadline ?? .distantFuture, b.form.id.rawValue, b.notice.id)
        }
    }

    /// The party's rectification is done: the notice goes from open to rectified, with an
    /// optional note. Any butler of the zone records it.
    public func resolveNotice(_ reference: String, note: String? = nil) throws {
        let (form, notice) = try self.notice(reference)
        try ClientError.mapping {
            try edit(form.id) { state, stamp, now in
                (try InspectionForm.progressNotice(&state, notice: notice.id, to: .rectified, note: note, at: now, stamp: stamp), ())
            }
        }
    }

    /// A supervisor checked the rectification on site: the notice is verified (from open or
    /// rectified), with an optional note.
    ///
    /// - Throws: `role-forbidden` on a device not known to be a supervisor's; nothing is queued.
    public func verifyNotice(_ reference: String, note: String? = nil) throws {
        let (form, notice) = try self.notice(reference)
        try write { db in
            try Self.requireSupervisor(db, to: "verify a rectification")
            try ClientError.mapping {
                try self.edit(db, form.id) { state, stamp, now in
                    (try InspectionForm.progressNotice(&state, notice: notice.id, to: .verified, note: note, at: now, stamp: stamp), ())
                }
            }
        }
    }

    /// Attaches a photo as `stage` evidence to a notice: imports the blob, attaches it to the
    /// notice and records the photo with its attachment, in one transaction. Allowed whatever the
    /// form's status (a notice is followed up after the form is submitted). Returns the SHA-256.
    @discardableResult
    public func attachPhoto(notice reference: String, file: URL, stage: RectificationNotice.Stage, caption: String? = nil) throws -> String {
        let (form, notice) = try self.notice(reference)
        let (sha, size) = try importBlob(file)
        let mediaType = Self.mediaType(of: file)
        let takenAt = (try? FileManager.default.attributesOfItem(atPath: file.path)[.modificationDate] as? Date) ?? clock.now()
        try write { db in
            try Self.registerBlob(db, sha256: sha, size: size, mediaType: mediaType)
            try ClientError.mapping {
                try self.edit(db, form.id) { state, stamp, _ in
                    (try InspectionForm.attachNoticePhoto(&state, notice: notice.id, stage: stage, sha256: sha, stamp: stamp), ())
                }
                let photoID = try Photo.recordID(sha256: sha, zone: form.zone)
                try self.edit(db, photoID, create: (.photo, form.zone)) { state, stamp, _ in
                    (try Photo.record(
                        &state, sha256: sha, bytes: size, mediaType: mediaType, takenAt: takenAt, caption: caption, attachTo: form.id,
                        notice: notice.id, stage: stage, stamp: stamp), ())
                }
            }
        }
        return sha
    }

    /// Detaches an evidence photo from a notice: from `stage`, or from both stages when `nil`,
    /// with the photo record's matching attachments, in one transaction. A concurrent attach on
    /// another device keeps the photo (add-wins); the server accepts a butler's detach only of
    /// photos this device attached (a supervisor's of any).
    ///
    /// - Throws: `invalid-argument` (not a SHA-256), `unknown-record`, `invalid-value` when the
    ///   notice does not show the photo.
    public func detachPhoto(notice reference: String, sha256: String, stage: RectificationNotice.Stage? = nil) throws {
        guard Photo.isSHA256(sha256) else { throw ClientError(.invalidArgument, "a photo is named by its SHA-256: 64 lower-case hex digits") }
        let (form, notice) = try self.notice(reference)
        guard let formState = try record(form.id) else { throw ClientError(.unknownRecord, "no form \(form.id) on this device") }
        let stages = InspectionForm.stages(of: sha256, notice: notice.id, in: formState).filter { stage == nil || $0 == stage }
        guard !stages.isEmpty else {
            throw ClientError(
                .invalidValue, "photo \(sha256) is not attached to notice \(notice.id) of \(form.id)\(stage.map { " as \($0.rawValue) evidence" } ?? "")")
        }
        let photoID = try Photo.recordID(sha256: sha256, zone: form.zone)
        try write { db in
            try ClientError.mapping {
                for stage in stages {
                    try self.edit(db, form.id) { state, stamp, _ in
                        (try InspectionForm.detachNoticePhoto(&state, notice: notice.id, stage: stage, sha256: sha256, stamp: stamp), ())
                    }
                }
                guard try self.loadRecord(db, photoID) != nil else { return }
                try self.edit(db, photoID) { state, stamp, _ in
                    var delta = RecordState(id: state.id, type: .photo, zone: state.zone)
                    for stage in stages { try delta.merge(try Photo.detach(&state, from: form.id, notice: notice.id, stage: stage, stamp: stamp)) }
                    return (delta, ())
                }
            }
        }
    }
}
