import Foundation

/// An inspection form (巡查登记表) as readers see it: a record state resolved by the rules.
///
/// Field layout (see `Protocol/SYNC.md` §"Records"): `template`, `place`, `butler`, `createdAt`,
/// `weather`, `status`; per checklist item `items/<key>/result`, `items/<key>/notes/<id>`,
/// `items/<key>/photos/<sha256>`; form notes `notes/<id>`; supervisor notes `review/notes/<id>`;
/// rectification notices `notices/<id>/{item,party,description,deadline,issuedAt,status}`, their
/// evidence `notices/<id>/photos/<before|after>/<sha256>` and notes `notices/<id>/notes/<note id>`.
public struct InspectionForm: Hashable, Sendable {
    /// One checklist item's resolved state.
    public struct Item: Hashable, Sendable {
        public let key: String
        public var result: ChecklistResult?
        public var notes: [Note] = []
        /// SHA-256 of the photos attached, sorted.
        public var photos: [String] = []

        public var jsonValue: JSONValue {
            [
                "result": result.map { .string($0.rawValue) } ?? .null,
                "notes": .array(notes.map(\.jsonValue)),
                "photos": .array(photos.map { .string($0) }),
            ]
        }
    }

    public let id: RecordID
    public let zone: Zone
    public let template: String?
    public let place: String?
    public let butler: String?
    public let createdAt: Date?
    public let weather: String?
    public let status: FormStatus
    /// Items that have a result, a note or a photo, by key.
    public let items: [String: Item]
    public let notes: [Note]
    public let reviewNotes: [Note]
    public let notices: [RectificationNotice]
    /// Open conflicts, late edits included, by field.
    public let conflicts: [Conflict]

    /// Resolves `state`, which must be an inspection form.
    public init(_ state: RecordState) throws {
        guard state.type == .inspectionForm else {
            throw ModelError(.unknownRecord, "\(state.id) is a \(state.type.rawValue), not an inspection form")
        }
        id = state.id
        zone = state.zone
        let resolutions = Resolver.resolveAll(state)
        var scalars: [String: JSONValue] = [:]
        var items: [String: Item] = [:]
        var notes: [Note] = []
        var reviewNotes: [Note] = []
        var notices: [String: [String: JSONValue]] = [:]
        var noticeStatusTimes: [String: Date] = [:]
        var noticePhotos: [String: [RectificationNotice.Evidence]] = [:]
        var noticeNotes: [String: [Note]] = [:]
        var conflicts: [Conflict] = []
        var status = FormStatus.initial

        for r in resolutions {
            if let c = Conflict(record: state.id, resolution: r) { conflicts.append(c) }
            let s = r.path.segments.map(String.init)
            switch (s.count, s.first) {
            case (1, "status"):
                if let v = r.value, let parsed = try? FormStatus(json: v) { status = parsed }
            case (1, _):
                scalars[s[0]] = r.value
            case (3, "items") where s[2] == "result":
                items[s[1], default: Item(key: s[1])].result = r.value?.stringValue.flatMap(ChecklistResult.init(rawValue:))
            case (4, "items") where s[2] == "notes":
                items[s[1], default: Item(key: s[1])].notes += r.chosen.map { Note(id: s[3], sibling: $0) }
            case (4, "items") where s[2] == "photos":
                items[s[1], default: Item(key: s[1])].photos.append(s[3])
            case (2, "notes"):
                notes += r.chosen.map { Note(id: s[1], sibling: $0) }
            case (3, "review") where s[1] == "notes":
                reviewNotes += r.chosen.map { Note(id: s[2], sibling: $0) }
            case (3, "notices"):
                notices[s[1], default: [:]][s[2]] = r.value
                if s[2] == "status", let shown = r.chosen.first {
                    noticeStatusTimes[s[1]] = Date(timeIntervalSince1970: Double(shown.entry.time.millis) / 1000)
                }
            case (5, "notices") where s[2] == "photos":
                if let stage = RectificationNotice.Stage(rawValue: s[3]) {
                    noticePhotos[s[1], default: []].append(RectificationNotice.Evidence(sha256: s[4], stage: stage))
                }
            case (4, "notices") where s[2] == "notes":
                noticeNotes[s[1], default: []] += r.chosen.map { Note(id: s[3], sibling: $0) }
            default:
                continue
            }
        }
        conflicts += LateEdits.find(in: state, status: status)

        template = scalars["template"]?.stringValue
        place = scalars["place"]?.stringValue
        butler = scalars["butler"]?.stringValue
        createdAt = scalars["createdAt"]?.date
        weather = scalars["weather"]?.stringValue
        self.status = status
        self.items = items.mapValues { item in
            var item = item
            item.notes.sort { ($0.at ?? .distantPast, $0.id) < ($1.at ?? .distantPast, $1.id) }
            item.photos.sort()
            return item
        }
        self.notes = notes.sorted { ($0.at ?? .distantPast, $0.id) < ($1.at ?? .distantPast, $1.id) }
        self.reviewNotes = reviewNotes.sorted { ($0.at ?? .distantPast, $0.id) < ($1.at ?? .distantPast, $1.id) }
        self.notices = notices.keys.sorted().map { key in
            let f = notices[key]!
            var notice = RectificationNotice(
                id: key, item: f["item"]?.stringValue, party: f["party"]?.stringValue.flatMap(ResponsibleParty.init(rawValue:)),
                description: f["description"]?.stringValue, deadline: f["deadline"]?.date, issuedAt: f["issuedAt"]?.date,
                status: f["status"]?.stringValue.flatMap(NoticeStatus.init(rawValue:)) ?? .open,
                photos: (noticePhotos[key] ?? []).sorted(),
                notes: (noticeNotes[key] ?? []).sorted { ($0.at ?? .distantPast, $0.id) < ($1.at ?? .distantPast, $1.id) })
            notice.statusRecordedAt = noticeStatusTimes[key]
            return notice
        }
        self.conflicts = conflicts.sorted { ($0.field, $0.rule.rawValue) < ($1.field, $1.rule.rawValue) }
    }

    /// Whether content edits are refused: the form is submitted (or later) in its current round.
    public var isLocked: Bool { status.state >= .submitted }

    /// The resolved view as JSON: the shape of `butler form show --json`.
    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id.rawValue),
            "zone": .string(zone.rawValue),
            "status": .string(status.state.rawValue),
            "round": .int(Int64(status.round)),
            "items": .object(items.mapValues(\.jsonValue)),
            "notes": .array(notes.map(\.jsonValue)),
            "reviewNotes": .array(reviewNotes.map(\.jsonValue)),
            "notices": .array(notices.map(\.jsonValue)),
            "conflicts": .array(conflicts.map(\.jsonValue)),
        ]
        o["template"] = template.map(JSONValue.string) ?? .null
        o["place"] = place.map(JSONValue.string) ?? .null
        o["butler"] = butler.map(JSONValue.string) ?? .null
        o["createdAt"] = createdAt?.wire ?? .null
        if let weather { o["weather"] = .string(weather) }
        return .object(o)
    }
}
