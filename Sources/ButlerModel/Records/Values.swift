import Foundation

/// The result of one checklist item (检查结果).
public enum ChecklistResult: String, CaseIterable, Hashable, Sendable {
    case ok
    case defect
    /// Not applicable (不适用).
    case na

    /// The ``ResolutionRule/defectWins`` order: defect > ok > na.
    public var rank: Int {
        switch self {
        case .na: 0
        case .ok: 1
        case .defect: 2
        }
    }
}

/// Who must rectify a defect (整改责任方), 001 §4.3.1.1.
public enum ResponsibleParty: String, CaseIterable, Hashable, Sendable {
    case cleaning, greening, engineering, security, other
}

/// A rectification notice's progress; monotone (``ResolutionRule/statusMonotone``).
public enum NoticeStatus: String, CaseIterable, Hashable, Sendable {
    /// Issued, waiting for the responsible party.
    case open
    /// The party reports it done.
    case rectified
    /// The butler checked it on site.
    case verified

    public var rank: Int {
        switch self {
        case .open: 0
        case .rectified: 1
        case .verified: 2
        }
    }
}

/// The repair categories that set callback deadlines (001 §4.2.2.3–4, 004 §三).
public enum RepairCategory: String, CaseIterable, Hashable, Sendable {
    /// Urgent water or electricity repair: callback within 24 h.
    case urgentUtility = "urgent-utility"
    /// Involving neighbours: callback within 24 h.
    case neighbour
    /// Dangerous (burst pipe, flooding): callback within 24 h.
    case dangerous
    /// Leak under warranty: callback after the first rainy day.
    case leak
    /// General repair: callback within 2 days.
    case general
    /// Major repair: callback within 2 days.
    case major
}

/// Complaint levels (003 §3).
public enum ComplaintLevel: String, CaseIterable, Hashable, Sendable {
    case major, important, minor
}

/// How a callback attempt reached (or tried to reach) the resident.
public enum CallbackChannel: String, CaseIterable, Hashable, Sendable {
    case phone, visit, sms, email
}

/// What the resident said when reached.
public enum Satisfaction: String, CaseIterable, Hashable, Sendable {
    case satisfied, unsatisfied
}

/// A free-text note with its author; concurrent notes are all kept (``ResolutionRule/notesKeepAll``).
public struct Note: Hashable, Sendable {
    /// The note's id: the last path segment, the dot that created it (`replica:counter`).
    public let id: String
    public let text: String
    public let author: String
    public let at: Date?

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = ["id": .string(id), "text": .string(text), "author": .string(author)]
        if let at { o["at"] = .string(Timestamp.format(at)) }
        return .object(o)
    }

    /// The value stored in a note field.
    static func value(text: String, at: Date) -> JSONValue {
        ["text": .string(text), "at": .string(Timestamp.format(at))]
    }

    static let validate: @Sendable (JSONValue) throws -> Void = { value in
        let r = try JSONObjectReader(value, path: "note")
        try Shape.checkText(try r.value("text"), 4000)
        if let at = r.members["at"] { try Shape.time(at) }
        for key in r.members.keys where key != "text" && key != "at" {
            throw ModelError(.invalidField, "note has unknown member \"\(key)\"")
        }
    }

    init(id: String, sibling: Sibling) {
        self.id = id
        self.text = sibling.value["text"]?.stringValue ?? ""
        self.author = sibling.entry.author
        self.at = sibling.value["at"]?.stringValue.flatMap(Timestamp.parse)
    }
}

extension Date {
    /// The canonical wire form of this instant.
    var wire: JSONValue { .string(Timestamp.format(self)) }
}

extension JSONValue {
    /// The instant in a canonical time string, or `nil`.
    var date: Date? { stringValue.flatMap(Timestamp.parse) }
}
