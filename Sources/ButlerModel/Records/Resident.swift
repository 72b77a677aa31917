import Foundation

/// A household's profile (客户档案, 001 §4.1) and the butler's visits to it (客户沟通记录, 001 §4.4).
///
/// One record per profile, in the zone of the building: `household` (building and unit, e.g.
/// "5号楼 301"), the resident's `name`, `phone`, `occupation`, `pets`, `needs`, whether the
/// household is `occupied`, free notes `notes/<id>` (every concurrent note kept) and the visits
/// `visits/<id>`. Profile fields are plain last-writer fields (`lww-hlc`): a profile is kept up to
/// date (001 §4.1.2), the latest word counts.
///
/// Visits are append-only entries of the resident's record, each written once under the dot that
/// created it, so any device can log one offline and two devices logging visits at once never
/// conflict: both are kept. Their `at` is a claim the server checks like a callback attempt's
/// (``FieldSchema/checkDatedValues(_:)``): never more than ``maxDatedAhead`` after the visit was
/// recorded.
///
/// Personal data: the record holds a resident's phone number and household. On the device it is
/// sealed at rest like every record (`AtRestKey`); code never logs a profile's values, and error
/// messages about a profile name the field, never its value. A complaint names the resident by
/// ``id`` to join its history to the profile.
public struct Resident: Hashable, Sendable {
    /// How the butler consulted the resident (征询方式, 001 §4.4.3).
    public enum Channel: String, CaseIterable, Hashable, Sendable {
        /// 上门征询: a visit at home.
        case visit
        /// 电话征询: by phone.
        case phone
        /// 户外休闲时访问: met outdoors, in the estate.
        case outdoor
        /// 问卷调查: a questionnaire.
        case survey
        /// 业主座谈: an owners' meeting.
        case meeting
    }

    /// One consultation of the household (客户沟通记录).
    public struct Visit: Hashable, Sendable {
        /// The dot that wrote it (`replica:counter`); a version rewritten by a faulty replica adds `@dot`.
        public let id: String
        /// When it happened (UTC); its month is counted in the estate's local time.
        public let at: Date
        public let channel: Channel
        public let note: String?
        /// Who logged it: the author of its entry.
        public let author: String
        /// When it was recorded: its entry's hybrid-logical-clock time. A visit logged days later
        /// shows it, so a supervisor can tell a backdated visit from a timely one.
        public let recordedAt: Date

        public var jsonValue: JSONValue {
            [
                "id": .string(id), "at": at.wire, "channel": .string(channel.rawValue), "note": note.map(JSONValue.string) ?? .null,
                "author": .string(author), "recordedAt": recordedAt.wire,
            ]
        }
    }

    /// The profile fields a butler sets (`butler resident add|set`); `nil` leaves a field as it is.
    public struct Profile: Hashable, Sendable {
        public var household: String?
        public var name: String?
        public var phone: String?
        public var occupation: String?
        public var pets: String?
        public var needs: String?
        public var occupied: Bool?

        public init(
            household: String? = nil, name: String? = nil, phone: String? = nil, occupation: String? = nil, pets: String? = nil,
            needs: String? = nil, occupied: Bool? = nil
        ) {
            self.household = household
            self.name = name
            self.phone = phone
            self.occupation = occupation
            self.pets = pets
            self.needs = needs
            self.occupied = occupied
        }

        /// The writes this profile makes, field by field, in a fixed order.
        var writes: [(field: String, value: JSONValue)] {
            let texts: [(field: String, value: String?)] = [
                ("household", household), ("name", name), ("phone", phone), ("occupation", occupation), ("pets", pets), ("needs", needs),
            ]
            var writes = texts.compactMap { text in text.value.map { (field: text.field, value: JSONValue.string($0)) } }
            if let occupied { writes.append((field: "occupied", value: .bool(occupied))) }
            return writes
        }
    }

    /// How far after its recording a visit may be dated: the same clock slack as a callback attempt.
    public static let maxDatedAhead: TimeInterval = CallbackRecord.maxDatedAhead

    public let id: RecordID
    public let zone: Zone
    public let household: String?
    public let name: String?
    public let phone: String?
    public let occupation: String?
    public let pets: String?
    public let needs: String?
    /// Whether someone lives there (已入住). Only occupied households count towards visit coverage;
    /// a profile that never said is counted as occupied.
    public let occupied: Bool
    public let notes: [Note]
    /// Visits by when they happened (then id).
    public let visits: [Visit]
    public let conflicts: [Conflict]

    public init(_ state: RecordState) throws {
        guard state.type == .resident else { throw ModelError(.unknownRecord, "\(state.id) is a \(state.type.rawValue), not a resident") }
        id = state.id
        zone = state.zone
        var scalars: [String: JSONValue] = [:]
        var notes: [Note] = []
        var visits: [Visit] = []
        var conflicts: [Conflict] = []
        for r in Resolver.resolveAll(state) {
            if let c = Conflict(record: state.id, resolution: r) { conflicts.append(c) }
            let s = r.path.segments.map(String.init)
            switch (s.count, s[0]) {
            case (1, _):
                scalars[s[0]] = r.value
            case (2, "notes"):
                notes += r.chosen.map { Note(id: s[1], sibling: $0) }
            case (2, "visits"):
                // Written once; should a faulty replica rewrite one concurrently, every version is a visit of its own.
                for sibling in r.siblings {
                    let v = sibling.value
                    guard let at = v["at"]?.date, let channel = v["channel"]?.stringValue.flatMap(Channel.init(rawValue:)) else { continue }
                    visits.append(Visit(
                        id: r.siblings.count == 1 ? s[1] : "\(s[1])@\(sibling.dot)", at: at, channel: channel, note: v["note"]?.stringValue,
                        author: sibling.entry.author, recordedAt: Date(timeIntervalSince1970: Double(sibling.entry.time.millis) / 1000)))
                }
            default:
                continue
            }
        }
        func text(_ key: String) -> String? { scalars[key]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } }
        household = text("household")
        name = text("name")
        phone = text("phone")
        occupation = text("occupation")
        pets = text("pets")
        needs = text("needs")
        occupied = scalars["occupied"]?.boolValue ?? true
        self.notes = notes
        self.visits = visits.sorted { ($0.at, $0.id) < ($1.at, $1.id) }
        // Visits never conflict (append-only): a rewritten one is listed as its own visit instead.
        self.conflicts = conflicts.filter { $0.rule != .appendOnly }
    }

    /// Creates a resident's profile; returns the delta. `profile.household` is required.
    public static func create(id: RecordID, zone: Zone, profile: Profile, note: String?, at: Date, stamp: EditStamp) throws -> RecordState {
        guard let household = profile.household, !household.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ModelError(.invalidValue, "a resident needs a household (building and unit, e.g. 5号楼 301)")
        }
        var state = RecordState(id: id, type: .resident, zone: zone)
        var complete = profile
        complete.household = household
        complete.occupied = profile.occupied ?? true
        return try update(&state, profile: complete, note: note, at: at, stamp: stamp)
    }

    /// Changes profile fields and adds a note; returns the delta (empty when nothing was given).
    /// An empty string clears a text field (written, not removed: a butler never erases a
    /// colleague's value without writing over it).
    @discardableResult
    public static func update(_ state: inout RecordState, profile: Profile, note: String?, at: Date, stamp: EditStamp) throws -> RecordState {
        guard state.type == .resident else { throw ModelError(.unknownRecord, "\(state.id) is not a resident") }
        if let household = profile.household, household.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ModelError(.invalidValue, "a household cannot be empty")
        }
        var copy = state
        var delta = RecordState(id: state.id, type: .resident, zone: state.zone)
        for (field, value) in profile.writes {
            let path = try FieldPath(field)
            try check(path, value)
            try delta.merge(copy.write(path, value, stamp: stamp))
        }
        if let note {
            let value = Note.value(text: note, at: at)
            let path = try FieldPath("notes", copy.nextDot(for: stamp.author.replica).description)
            try check(path, value)
            try delta.merge(copy.write(path, value, stamp: stamp))
        }
        state = copy
        return delta
    }

    /// Logs one visit; returns its id and the delta. A visit dated more than ``maxDatedAhead``
    /// after the edit's time is refused here, as the server would refuse it.
    public static func logVisit(
        _ state: inout RecordState, at: Date, channel: Channel, note: String?, stamp: EditStamp
    ) throws -> (id: String, delta: RecordState) {
        guard state.type == .resident else { throw ModelError(.unknownRecord, "\(state.id) is not a resident") }
        var value: [String: JSONValue] = ["at": at.wire, "channel": .string(channel.rawValue)]
        if let note { value["note"] = .string(note) }
        let id = state.nextDot(for: stamp.author.replica).description
        let path = try FieldPath("visits", id)
        try check(path, .object(value))
        var copy = state
        let delta = copy.write(path, .object(value), stamp: stamp)
        try FieldSchema.resident.checkDatedValues(delta)
        state = copy
        return (id, delta)
    }

    /// Checks one write against the schema, naming the field but never its value (personal data).
    static func check(_ path: FieldPath, _ value: JSONValue) throws {
        guard let field = FieldSchema.resident.field(for: path) else { throw ModelError(.invalidField, "a resident has no field \(path)") }
        do { try field.validate(value) } catch let error as ModelError {
            throw ModelError(.invalidValue, "\(path): \(error.message)")
        }
    }

    /// Household names written differently ("5号楼 301", "5号楼301") name one household.
    public static func householdKey(_ household: String) -> String {
        String(household.unicodeScalars.filter { !CharacterSet.whitespacesAndNewlines.contains($0) }.map(Character.init))
    }

    public var jsonValue: JSONValue {
        [
            "id": .string(id.rawValue), "zone": .string(zone.rawValue), "household": household.map(JSONValue.string) ?? .null,
            "name": name.map(JSONValue.string) ?? .null, "phone": phone.map(JSONValue.string) ?? .null,
            "occupation": occupation.map(JSONValue.string) ?? .null, "pets": pets.map(JSONValue.string) ?? .null,
            "needs": needs.map(JSONValue.string) ?? .null, "occupied": .bool(occupied), "notes": .array(notes.map(\.jsonValue)),
            "visits": .array(visits.map(\.jsonValue)), "lastVisit": visits.last.map { $0.at.wire } ?? .null,
            "conflicts": .array(conflicts.map(\.jsonValue)),
        ]
    }

    // MARK: - Value shapes

    /// A phone number: digits with `+ - ( )` and spaces, at most 32 characters, or empty (cleared).
    static let validatePhone: @Sendable (JSONValue) throws -> Void = { value in
        guard let s = value.stringValue else { throw ModelError(.invalidField, "must be a string") }
        let allowed = CharacterSet(charactersIn: "0123456789+-() ")
        guard s.unicodeScalars.count <= 32, s.unicodeScalars.allSatisfy(allowed.contains) else {
            throw ModelError(.invalidField, "must be a phone number: digits, + - ( ) and spaces, at most 32 characters")
        }
    }

    static let validateHousehold: @Sendable (JSONValue) throws -> Void = { value in
        try Shape.checkText(value, 64)
        guard let s = value.stringValue, !s.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ModelError(.invalidField, "must name the building and unit")
        }
    }

    static let validateOccupied: @Sendable (JSONValue) throws -> Void = { value in
        guard value.boolValue != nil else { throw ModelError(.invalidField, "must be true or false") }
    }

    static let validateVisit: @Sendable (JSONValue) throws -> Void = { value in
        let r = try JSONObjectReader(value, path: "visit")
        try Shape.time(try r.value("at"))
        try Shape.oneOf(Channel.allCases.map(\.rawValue))(try r.value("channel"))
        if let n = r.members["note"] { try Shape.checkText(n, 2000) }
        for key in r.members.keys where !["at", "channel", "note"].contains(key) {
            throw ModelError(.invalidField, "visit has unknown member \"\(key)\"")
        }
    }
}
