import Foundation

/// A rectification notice (问题整改通知单) raised from a defect to a responsible party, with a
/// deadline; its photos are the evidence used to fine a contractor who misses it (001 §4.3.1.1).
///
/// A notice lives inside its inspection form (`notices/<id>/…`, SYNC.md §"Records"); its `id` is
/// the dot that raised it (`replica:counter`), unique within the form. Commands name a notice by
/// ``Reference`` (`<form id>/<notice id>`), so no command needs the form id beside it.
public struct RectificationNotice: Hashable, Sendable {
    /// Before: the defect as found; after: the rectification done.
    public enum Stage: String, CaseIterable, Hashable, Sendable {
        case before, after
    }

    /// One evidence photo attached to the notice.
    public struct Evidence: Hashable, Sendable, Comparable {
        public let sha256: String
        public let stage: Stage

        public init(sha256: String, stage: Stage) {
            self.sha256 = sha256
            self.stage = stage
        }

        public static func < (lhs: Evidence, rhs: Evidence) -> Bool {
            (lhs.stage == .before ? 0 : 1, lhs.sha256) < (rhs.stage == .before ? 0 : 1, rhs.sha256)
        }

        public var jsonValue: JSONValue { ["sha256": .string(sha256), "stage": .string(stage.rawValue)] }
    }

    /// How commands name a notice without its form: `<form id>/<notice id>`, e.g.
    /// `form-3f2a…/li-handheld:7`. A record id never holds `/`, so the first `/` splits it.
    public struct Reference: Hashable, Sendable, CustomStringConvertible {
        public let form: RecordID
        public let notice: String

        public init(form: RecordID, notice: String) {
            self.form = form
            self.notice = notice
        }

        /// Parses `<form id>/<notice id>`.
        public init(_ text: String) throws {
            guard let slash = text.firstIndex(of: "/") else {
                throw ModelError(.invalidValue, "a notice is named <form id>/<notice id> (as `butler notice new` printed it), not \"\(text)\"")
            }
            form = try RecordID(String(text[..<slash]))
            notice = String(text[text.index(after: slash)...])
            try validateIdentifier(notice, kind: "notice id", maxLength: 128, allowColon: true)
        }

        public var description: String { "\(form.rawValue)/\(notice)" }
    }

    public let id: String
    public let item: String?
    public let party: ResponsibleParty?
    public let description: String?
    public let deadline: Date?
    public let issuedAt: Date?
    public let status: NoticeStatus
    /// Evidence photos, before ones first, each stage by hash.
    public var photos: [Evidence] = []
    /// Notes on the rectification (written when it is resolved or verified), oldest first.
    public var notes: [Note] = []
    /// When the shown status was recorded (its entry's hybrid-logical-clock time): for a
    /// rectified notice, when the rectification was reported.
    public var statusRecordedAt: Date?

    public init(
        id: String, item: String?, party: ResponsibleParty?, description: String?, deadline: Date?, issuedAt: Date?, status: NoticeStatus,
        photos: [Evidence] = [], notes: [Note] = []
    ) {
        self.id = id
        self.item = item
        self.party = party
        self.description = description
        self.deadline = deadline
        self.issuedAt = issuedAt
        self.status = status
        self.photos = photos
        self.notes = notes
    }

    /// Whether the party missed the deadline and no supervisor has verified the rectification yet:
    /// still open past it, or reported rectified only after it. A late "rectified" does not erase
    /// the missed deadline, which is the grounds for fining the party (001 §4.3.1.1); the
    /// supervisor's verification ends the escalation.
    public func isOverdue(now: Date) -> Bool {
        guard let deadline, status != .verified, now > deadline else { return false }
        return status == .open || (statusRecordedAt ?? .distantPast) > deadline
    }

    /// The notice in a form's view. `photos` and `notes` appear only when there are some, so
    /// views of forms whose notices have none read as before.
    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = ["id": .string(id), "status": .string(status.rawValue)]
        if let item { o["item"] = .string(item) }
        if let party { o["party"] = .string(party.rawValue) }
        if let description { o["description"] = .string(description) }
        if let deadline { o["deadline"] = deadline.wire }
        if let issuedAt { o["issuedAt"] = issuedAt.wire }
        if !photos.isEmpty { o["photos"] = .array(photos.map(\.jsonValue)) }
        if !notes.isEmpty { o["notes"] = .array(notes.map(\.jsonValue)) }
        return .object(o)
    }

    /// The notice on its own (`butler notice show|list --json`): the form view's keys, plus `ref`
    /// (what commands take), `form`, `zone`, `place`, `overdue` at `now`, and `photos` and `notes`
    /// always present.
    public func jsonValue(in form: InspectionForm, now: Date) -> JSONValue {
        guard case .object(var o) = jsonValue else { return jsonValue }
        o["ref"] = .string(Reference(form: form.id, notice: id).description)
        o["form"] = .string(form.id.rawValue)
        o["zone"] = .string(form.zone.rawValue)
        o["place"] = form.place.map(JSONValue.string) ?? .null
        o["overdue"] = .bool(isOverdue(now: now))
        o["photos"] = .array(photos.map(\.jsonValue))
        o["notes"] = .array(notes.map(\.jsonValue))
        return .object(o)
    }

    /// The deadline a butler writes as `--due`: a local day `yyyy-MM-dd` means the end of that day
    /// in the estate's time zone (the instant the next day starts, so the notice is overdue from
    /// then on); anything else must be a full ISO 8601 time (`2026-11-24T18:00:00+08:00`).
    ///
    /// - Throws: ``ModelError/Code/invalidValue`` for text that is neither.
    public static func deadline(_ text: String, calendar: EstateCalendar) throws -> Date {
        if text.utf8.count == 10, let day = try? EstateCalendar.Day(text) {
            return calendar.start(of: EstateCalendar.Day(ordinal: day.ordinal + 1))
        }
        guard let date = Timestamp.parseLenient(text) else {
            throw ModelError(.invalidValue, "a deadline is a day (yyyy-MM-dd, the end of that day) or an ISO 8601 time such as 2026-11-24T18:00:00+08:00, not \"\(text)\"")
        }
        return date
    }
}
