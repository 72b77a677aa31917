/// Short ids, as git abbreviates commit hashes: people type and read a unique prefix of an id.
extension RecordID {
    /// The id's type prefix: up to and including its first `-` (`form-` in `form-98a0e050-…`),
    /// or nothing when it has none.
    public var typePrefix: Substring {
        guard let dash = rawValue.firstIndex(of: "-") else { return "" }
        return rawValue[...dash]
    }

    /// Whether `prefix` is a prefix of this id.
    public func starts(with prefix: String) -> Bool {
        rawValue.utf8.starts(with: prefix.utf8)
    }

    /// The short form of each of `ids`: its shortest prefix that no other of `ids` starts with,
    /// and at least `minimum` characters after the type prefix (`form-98a0e050`); the whole id
    /// when no shorter prefix is unique (an id that is a prefix of another).
    ///
    /// Unique among `ids` only: pass every id a prefix could be resolved against (all the records
    /// of a type on the device), not just the ones shown.
    public static func shortForms(_ ids: some Sequence<RecordID>, minimum: Int = 8) -> [RecordID: String] {
        let sorted = Set(ids).sorted()
        func common(_ a: RecordID, _ b: RecordID) -> Int {
            zip(a.rawValue.utf8, b.rawValue.utf8).prefix { $0 == $1 }.count
        }
        var result: [RecordID: String] = [:]
        for (index, id) in sorted.enumerated() {
            var shared = 0
            if index > 0 { shared = max(shared, common(id, sorted[index - 1])) }
            if index + 1 < sorted.count { shared = max(shared, common(id, sorted[index + 1])) }
            let length = min(id.rawValue.utf8.count, max(id.typePrefix.utf8.count + minimum, shared + 1))
            result[id] = String(decoding: id.rawValue.utf8.prefix(length), as: UTF8.self)
        }
        return result
    }
}
