import Foundation

/// A photo taken as evidence (拍照取证): metadata in a record, bytes in a blob addressed by SHA-256.
///
/// The record id is derived from the zone and the hash, so the same picture imported on two
/// devices becomes one record whose fields merge; attachments are an add-wins set
/// (`attachments/<record>/<item or "form">`, and `attachments/<form>/notices/<notice>/<stage>` for
/// a rectification notice's evidence), so a concurrent detach never drops an attachment someone
/// else made.
public struct Photo: Hashable, Sendable {
    public struct Attachment: Hashable, Sendable {
        public let record: String
        public let item: String?
        /// The rectification notice of `record` the photo is evidence for, and at which stage.
        public var notice: String? = nil
        public var stage: RectificationNotice.Stage? = nil

        var jsonValue: JSONValue {
            var o: [String: JSONValue] = ["record": .string(record), "item": item.map(JSONValue.string) ?? .null]
            if let notice, let stage {
                o["notice"] = .string(notice)
                o["stage"] = .string(stage.rawValue)
            }
            return .object(o)
        }
    }

    public let id: RecordID
    public let zone: Zone
    public let sha256: String?
    public let bytes: Int64?
    public let mediaType: String?
    public let takenAt: Date?
    public let takenBy: String?
    public let caption: String?
    public let attachments: [Attachment]
    public let conflicts: [Conflict]

    /// The record id of the photo with `sha256` in `zone`.
    public static func recordID(sha256: String, zone: Zone) throws -> RecordID {
        guard isSHA256(sha256) else { throw ModelError(.invalidValue, "a photo hash must be 64 lower-case hex digits") }
        return try RecordID("photo:\(zone.rawValue):\(sha256)")
    }

    public static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    public init(_ state: RecordState) throws {
        guard state.type == .photo else { throw ModelError(.unknownRecord, "\(state.id) is a \(state.type.rawValue), not a photo") }
        id = state.id
        zone = state.zone
        var scalars: [String: JSONValue] = [:]
        var attachments: [Attachment] = []
        var conflicts: [Conflict] = []
        for r in Resolver.resolveAll(state) {
            if let c = Conflict(record: state.id, resolution: r) { conflicts.append(c) }
            let s = r.path.segments.map(String.init)
            if s.count == 1 { scalars[s[0]] = r.value }
            if s.count == 3, s[0] == "attachments" {
                attachments.append(Attachment(record: s[1], item: s[2] == Photo.wholeRecord ? nil : s[2]))
            }
            if s.count == 5, s[0] == "attachments", s[2] == "notices", let stage = RectificationNotice.Stage(rawValue: s[4]) {
                attachments.append(Attachment(record: s[1], item: nil, notice: s[3], stage: stage))
            }
        }
        sha256 = scalars["sha256"]?.stringValue
        bytes = scalars["bytes"]?.intValue
        mediaType = scalars["mediaType"]?.stringValue
        takenAt = scalars["takenAt"]?.date
        takenBy = scalars["takenBy"]?.stringValue
        caption = scalars["caption"]?.stringValue
        self.attachments = attachments
        self.conflicts = conflicts
    }

    /// The item segment of an attachment to a whole record rather than one checklist item.
    public static let wholeRecord = "form"

    /// Records (or re-records) a photo's metadata and attaches it; returns the delta.
    public static func record(
        _ state: inout RecordState, sha256: String, bytes: Int64, mediaType: String, takenAt: Date, caption: String?,
        attachTo record: RecordID, item: String?, stamp: EditStamp
    ) throws -> RecordState {
        try self.record(
            &state, sha256: sha256, bytes: bytes, mediaType: mediaType, takenAt: takenAt, caption: caption,
            attachment: try FieldPath("attachments", record.rawValue, item ?? wholeRecord), stamp: stamp)
    }

    /// Records (or re-records) a photo's metadata and attaches it as `stage` evidence to
    /// rectification notice `notice` of form `form`; returns the delta.
    public static func record(
        _ state: inout RecordState, sha256: String, bytes: Int64, mediaType: String, takenAt: Date, caption: String?,
        attachTo form: RecordID, notice: String, stage: RectificationNotice.Stage, stamp: EditStamp
    ) throws -> RecordState {
        try record(
            &state, sha256: sha256, bytes: bytes, mediaType: mediaType, takenAt: takenAt, caption: caption,
            attachment: try noticeAttachment(form: form, notice: notice, stage: stage), stamp: stamp)
    }

    static func noticeAttachment(form: RecordID, notice: String, stage: RectificationNotice.Stage) throws -> FieldPath {
        try FieldPath("attachments", form.rawValue, "notices", notice, stage.rawValue)
    }

    private static func record(
        _ state: inout RecordState, sha256: String, bytes: Int64, mediaType: String, takenAt: Date, caption: String?,
        attachment: FieldPath, stamp: EditStamp
    ) throws -> RecordState {
        guard state.type == .photo, state.id == (try recordID(sha256: sha256, zone: state.zone)) else {
            throw ModelError(.invalidValue, "photo record \(state.id) does not match hash \(sha256)")
        }
        var copy = state
        var delta = RecordState(id: state.id, type: .photo, zone: state.zone)
        let current = try Photo(state)
        if current.sha256 == nil {
            try delta.merge(copy.write("sha256", .string(sha256), stamp: stamp))
            try delta.merge(copy.write("bytes", .int(bytes), stamp: stamp))
            try delta.merge(copy.write("mediaType", .string(mediaType), stamp: stamp))
            try delta.merge(copy.write("takenAt", takenAt.wire, stamp: stamp))
            try delta.merge(copy.write("takenBy", .string(stamp.author.name), stamp: stamp))
        }
        if let caption {
            try Shape.checkText(.string(caption), 500)
            try delta.merge(copy.write("caption", .string(caption), stamp: stamp))
        }
        // A new dot on every attach, as on the form: a concurrent detach cannot drop it.
        try delta.merge(copy.add(attachment, true, stamp: stamp))
        try FieldSchema.photo.validate(delta)
        state = copy
        return delta
    }

    /// Removes the photo's attachment to `record` (to `item`, or to the whole record when `nil`)
    /// as this replica has seen it; returns the delta, empty when there is none. A concurrent
    /// attach elsewhere survives (add-wins).
    public static func detach(_ state: inout RecordState, from record: RecordID, item: String?, stamp: EditStamp) throws -> RecordState {
        guard state.type == .photo else { throw ModelError(.invalidValue, "\(state.id) is not a photo record") }
        return state.write(try FieldPath("attachments", record.rawValue, item ?? wholeRecord), nil, stamp: stamp)
    }

    /// Removes the photo's attachment as `stage` evidence to notice `notice` of `form`, as this
    /// replica has seen it; returns the delta, empty when there is none.
    public static func detach(
        _ state: inout RecordState, from form: RecordID, notice: String, stage: RectificationNotice.Stage, stamp: EditStamp
    ) throws -> RecordState {
        guard state.type == .photo else { throw ModelError(.invalidValue, "\(state.id) is not a photo record") }
        return state.write(try noticeAttachment(form: form, notice: notice, stage: stage), nil, stamp: stamp)
    }

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id.rawValue), "zone": .string(zone.rawValue),
            "attachments": .array(attachments.map(\.jsonValue)),
            "conflicts": .array(conflicts.map(\.jsonValue)),
        ]
        o["sha256"] = sha256.map(JSONValue.string) ?? .null
        o["bytes"] = bytes.map(JSONValue.int) ?? .null
        o["mediaType"] = mediaType.map(JSONValue.string) ?? .null
        o["takenAt"] = takenAt?.wire ?? .null
        o["takenBy"] = takenBy.map(JSONValue.string) ?? .null
        o["caption"] = caption.map(JSONValue.string) ?? .null
        return .object(o)
    }
}
