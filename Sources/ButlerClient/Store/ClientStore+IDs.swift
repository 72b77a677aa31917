import ButlerModel
import Foundation
import GRDB

/// Record ids as people type and read them: a unique prefix stands for the whole id (as git
/// abbreviates commits), and lists show the shortest unique one.
extension ClientStore {
    /// The most candidates an ambiguous prefix's error lists.
    static let ambiguityListed = 10

    /// The id of the one record of `type` on this device that `text` names: the record whose id
    /// is exactly `text`, or else the only one whose id starts with it.
    ///
    /// ```swift
    /// let form = try store.resolveID("form-98a0e050", type: .inspectionForm)   // form-98a0e050-5c1d-…
    /// ```
    ///
    /// - Throws: ``ClientError`` `invalid-value` for text that cannot be (part of) an id;
    ///   `unknown-record` when no record of `type` here starts with it; `invalid-argument` when
    ///   several do (the message lists them).
    public func resolveID(_ text: String, type: RecordType) throws -> RecordID {
        let prefix = try ClientError.mapping { try RecordID(text) }
        let what = Self.noun(type)
        let matches = try read { db in
            try String.fetchAll(
                db, sql: "SELECT id FROM records WHERE type = ? AND substr(id, 1, ?) = ? ORDER BY id",
                arguments: [type.rawValue, text.utf8.count, text])
        }
        if matches.contains(text) || matches.count == 1 { return try RecordID(matches.contains(text) ? text : matches[0]) }
        guard !matches.isEmpty else { throw ClientError(.unknownRecord, "no \(what) \(prefix) on this device") }
        let listed = matches.prefix(Self.ambiguityListed).joined(separator: ", ")
        let more = matches.count > Self.ambiguityListed ? " and \(matches.count - Self.ambiguityListed) more" : ""
        throw ClientError(
            .invalidArgument, "\"\(text)\" is ambiguous: \(matches.count) \(what)s on this device start with it: \(listed)\(more); give more of the id")
    }

    /// The short form of every id of `types` on this device (``RecordID/shortForms(_:minimum:)``,
    /// unique among the records of its type, which is what ``resolveID(_:type:)`` resolves against).
    public func shortIDs(of types: RecordType...) throws -> [RecordID: String] {
        var result: [RecordID: String] = [:]
        for type in types {
            let ids = try read { db in
                try String.fetchAll(db, sql: "SELECT id FROM records WHERE type = ?", arguments: [type.rawValue]).map(RecordID.init)
            }
            result.merge(RecordID.shortForms(ids)) { first, _ in first }
        }
        return result
    }

    static func noun(_ type: RecordType) -> String {
        switch type {
        case .inspectionForm: "form"
        case .workOrder: "work order"
        case .rainDay: "rain day"
        case .photo, .complaint, .callback, .resident: type.rawValue
        }
    }
}
