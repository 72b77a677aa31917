/// Who makes an edit: the replica (device) and the person's display name, for attribution.
public struct Author: Hashable, Sendable {
    public let replica: ReplicaID
    public let name: String

    public init(replica: ReplicaID, name: String) throws {
        try FieldEntry.validateAuthorName(name)
        self.replica = replica
        self.name = name
    }
}

/// When and by whom an edit is made: every write of one edit shares it.
public struct EditStamp: Hashable, Sendable {
    public let author: Author
    public let time: HLCTimestamp

    public init(author: Author, time: HLCTimestamp) {
        self.author = author
        self.time = time
    }
}

/// One value in a multi-value register, with the dot that wrote it (the key in the register),
/// the writer's hybrid logical time and the author's name.
public struct FieldEntry: Hashable, Sendable {
    public let value: JSONValue
    public let time: HLCTimestamp
    public let author: String

    public init(value: JSONValue, time: HLCTimestamp, author: String) {
        self.value = value
        self.time = time
        self.author = author
    }

    static func validateAuthorName(_ name: String) throws {
        guard !name.isEmpty, name.unicodeScalars.count <= 64 else {
            throw ModelError(.invalidValue, "author name must be 1 to 64 characters")
        }
        guard !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw ModelError(.invalidValue, "author name may not contain control characters")
        }
    }
}

/// A register value seen together with its dot: what rules, views and conflict reports work on.
public struct Sibling: Hashable, Sendable {
    public let dot: Dot
    public let entry: FieldEntry

    public init(dot: Dot, entry: FieldEntry) {
        self.dot = dot
        self.entry = entry
    }

    public var value: JSONValue { entry.value }

    /// The last-writer order: hybrid logical time, then replica id, then counter. Total and the
    /// same on every replica; never wall-clock alone.
    public static func lastWriterPrecedes(_ a: Sibling, _ b: Sibling) -> Bool {
        if a.entry.time != b.entry.time { return a.entry.time < b.entry.time }
        return a.dot < b.dot
    }
}
