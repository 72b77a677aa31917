import Foundation

/// Rectification notices after they are raised (001 §4.3.1.1): evidence photos before and after,
/// notes, and progress. None of these is form content: a notice is followed up after the form is
/// submitted, so they are allowed in every form status and never flagged as late edits.
extension InspectionForm {
    /// The notice `id` as `state` resolves it.
    ///
    /// - Throws: ``ModelError/Code/unknownRecord`` when the form has no such notice.
    public static func notice(_ id: String, in state: RecordState) throws -> RectificationNotice {
        guard let notice = try InspectionForm(state).notices.first(where: { $0.id == id }) else {
            throw ModelError(.unknownRecord, "form \(state.id) has no rectification notice \(id)")
        }
        return notice
    }

    /// The path of one evidence photo of a notice: `notices/<id>/photos/<stage>/<sha256>`.
    static func evidencePath(notice: String, stage: RectificationNotice.Stage, sha256: String) throws -> FieldPath {
        try FieldPath("notices", notice, "photos", stage.rawValue, sha256)
    }

    /// Attaches an evidence photo to a notice. As on an item, every attach mints a new dot, also
    /// of a photo already attached, so a detach made concurrently elsewhere keeps it (add-wins).
    @discardableResult
    public static func attachNoticePhoto(
        _ state: inout RecordState, notice: String, stage: RectificationNotice.Stage, sha256: String, stamp: EditStamp
    ) throws -> RecordState {
        _ = try self.notice(notice, in: state)
        try Shape.sha256(.string(sha256))
        return state.add(try evidencePath(notice: notice, stage: stage, sha256: sha256), true, stamp: stamp)
    }

    /// Detaches an evidence photo this replica has seen on the notice; a concurrent attach
    /// elsewhere survives (add-wins). The server accepts a butler's detach only of attaches made
    /// by that butler's device (a supervisor's of any).
    ///
    /// - Throws: ``ModelError/Code/invalidValue`` when the notice does not show the photo at `stage`.
    @discardableResult
    public static func detachNoticePhoto(
        _ state: inout RecordState, notice: String, stage: RectificationNotice.Stage, sha256: String, stamp: EditStamp
    ) throws -> RecordState {
        _ = try self.notice(notice, in: state)
        let path = try evidencePath(notice: notice, stage: stage, sha256: sha256)
        guard !state.siblings(path).isEmpty else {
            throw ModelError(.invalidValue, "photo \(sha256) is not attached to notice \(notice) of \(state.id) as \(stage.rawValue) evidence")
        }
        return state.write(path, nil, stamp: stamp)
    }

    /// The stages at which `sha256` is attached to `notice`, as this replica sees it.
    public static func stages(of sha256: String, notice: String, in state: RecordState) -> [RectificationNotice.Stage] {
        RectificationNotice.Stage.allCases.filter { stage in
            (try? evidencePath(notice: notice, stage: stage, sha256: sha256)).map { !state.siblings($0).isEmpty } ?? false
        }
    }

    /// Adds a note to a notice (concurrent notes are all kept, with their authors).
    @discardableResult
    public static func addNoticeNote(_ state: inout RecordState, notice: String, text: String, at: Date, stamp: EditStamp) throws -> RecordState {
        _ = try self.notice(notice, in: state)
        let value = Note.value(text: text, at: at)
        try Note.validate(value)
        return state.write(try FieldPath("notices", notice, "notes", noteID(state, stamp)), value, stamp: stamp)
    }

    /// Moves a notice forward (open → rectified → verified) with an optional note, in one edit.
    /// Who may do which step is the server's rule (``DeltaAdmission``): only a supervisor verifies.
    ///
    /// - Throws: ``ModelError/Code/invalidTransition`` when the notice is already there or further.
    @discardableResult
    public static func progressNotice(
        _ state: inout RecordState, notice: String, to status: NoticeStatus, note: String?, at: Date, stamp: EditStamp
    ) throws -> RecordState {
        var copy = state
        var delta = try setNoticeStatus(&copy, notice: notice, to: status, stamp: stamp)
        if let note { try delta.merge(try addNoticeNote(&copy, notice: notice, text: note, at: at, stamp: stamp)) }
        state = copy
        return delta
    }
}
