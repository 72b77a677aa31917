import ButlerModel
import Foundation

/// One `butler` edit command that exited 0 — a promise made to the butler — in the real-process
/// run's history (Jepsen's history of acknowledged operations).
struct AcknowledgedEdit: Sendable, CustomStringConvertible {
    /// The device that made it (its name on the server, which the audit log records).
    let device: String
    /// The command, for the report.
    let command: String
    /// The record it wrote.
    let record: RecordID
    let effect: Effect

    /// What the command promised to put on the server.
    enum Effect: Sendable {
        /// The record exists (a form or work order created: the id it printed).
        case exists
        /// An entry the edit wrote: at a path `matches` accepts, with a value `value` accepts.
        case entry(Entry)
    }

    struct Entry: Sendable {
        /// The path's segments; `*` matches any one segment.
        let path: [String]
        /// The value, or for an object the members that must be there (other members are free).
        let value: JSONValue?

        func matches(_ path: FieldPath, _ value: JSONValue) -> Bool {
            let segments = path.segments.map(String.init)
            guard segments.count == self.path.count, zip(segments, self.path).allSatisfy({ $1 == "*" || $0 == $1 }) else { return false }
            guard let expected = self.value else { return true }
            if case .object(let members) = expected {
                return members.allSatisfy { value[$0.key] == $0.value }
            }
            return value == expected
        }
    }

    var description: String { "\(device): \(command)" }

    /// The acknowledged edits the server does not reflect, given every delta it accepted (the
    /// audit log, in order, with the device that pushed each) and its final records.
    ///
    /// An edit is reflected when its record exists and, for an entry, when an accepted delta from
    /// its device carries such an entry (each accepted entry stands for one acknowledged edit
    /// only), and that entry's dot is still in the server's record at that path, or was
    /// superseded by a later write of the same path: an accepted delta with another entry there
    /// whose causal context had seen the dot. Anything else is an acknowledged edit lost.
    ///
    /// One exception: a later acknowledged edit of the same path by the same device supersedes it
    /// on the device itself, and when both were still queued, the device pushes their join, which
    /// carries only the later entry (SYNC.md §8: a client may join its deltas of one record). Such
    /// an edit is reflected through the later one, which is checked on its own.
    /// `edits` are in the order the commands finished.
    static func unreflected(_ edits: [AcknowledgedEdit], audit: [(device: String, delta: RecordState)], server: [RecordState]) -> [String] {
        let byID = Dictionary(server.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var used = Set<String>()
        var problems: [String] = []
        for (index, edit) in edits.enumerated() {
            guard let stored = byID[edit.record] else {
                problems.append("acknowledged edit lost: \(edit) — record \(edit.record) is not on the server")
                continue
            }
            guard case .entry(let expected) = edit.effect else { continue }
            let overwrittenHere = !expected.path.contains("*") && edits[(index + 1)...].contains { later in
                guard later.device == edit.device, later.record == edit.record, case .entry(let entry) = later.effect else { return false }
                return entry.path == expected.path
            }
            if overwrittenHere { continue }
            var found: (path: FieldPath, dot: Dot)?
            search: for accepted in audit where accepted.device == edit.device && accepted.delta.id == edit.record {
                for (path, entries) in accepted.delta.fields {
                    for (dot, entry) in entries.sorted(by: { $0.key < $1.key }) where expected.matches(path, entry.value) {
                        let key = "\(edit.record) \(path) \(dot)"
                        guard !used.contains(key) else { continue }
                        used.insert(key)
                        found = (path, dot)
                        break search
                    }
                }
            }
            guard let (path, dot) = found else {
                problems.append("acknowledged edit lost: \(edit) — the server never accepted it (no such entry from \(edit.device) in the audit log)")
                continue
            }
            if stored.fields[path]?[dot] != nil { continue }
            let superseded = audit.contains { accepted in
                accepted.delta.id == edit.record && accepted.delta.context.contains(dot)
                    && (accepted.delta.fields[path]?.keys.contains { $0 != dot } ?? false)
            }
            if !superseded {
                problems.append("acknowledged edit lost: \(edit) — its entry \(dot) at \(path) is gone from the server and no later write of \(path) superseded it")
            }
        }
        return problems
    }
}
