extension DeltaAdmission {
    /// Rectification notices (001 §4.3.1.1): the responsible party reports the work done and the
    /// butler records it (open → rectified); checking it and signing it off is the supervisor's
    /// (→ verified). So a butler's delta may not write a `verified` notice status, and may not move
    /// a notice's status as everyone reads it (status-monotone) back, whether by writing over a
    /// value it saw or by erasing one.
    ///
    /// Judged on the resolved status of each notice the delta touches, like a form's status in
    /// ``forbiddenStatusChange(from:to:added:pusher:)``.
    static func forbiddenNoticeChange(from base: RecordState, to merged: RecordState, added: [Value], pusher: Pusher) -> String? {
        guard pusher.role == .butler, base.type == .inspectionForm else { return nil }
        for value in added where isNoticeStatus(value.path) && value.entry.value.stringValue == NoticeStatus.verified.rawValue {
            return "only a supervisor verifies a rectification (\(value.path))"
        }
        for path in Set(merged.fields.keys).union(base.fields.keys) where isNoticeStatus(path) && base.fields[path] != merged.fields[path] {
            let before = rank(Resolver.resolve(path, in: base)?.value)
            let after = rank(Resolver.resolve(path, in: merged)?.value)
            if after < before {
                return "a butler's edit may not move a rectification notice back (\(path))"
            }
        }
        return nil
    }

    static func isNoticeStatus(_ path: FieldPath) -> Bool {
        let s = path.segments
        return s.count == 3 && s[0] == "notices" && s[2] == "status"
    }

    private static func rank(_ value: JSONValue?) -> Int {
        value?.stringValue.flatMap(NoticeStatus.init(rawValue:))?.rank ?? -1
    }
}
