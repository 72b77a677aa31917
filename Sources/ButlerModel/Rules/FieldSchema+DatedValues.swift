import Foundation

extension FieldSchema {
    /// Refuses the entries of `delta` that claim to have happened in the future: an entry whose
    /// field has a ``Field/maxDatedAhead`` and whose value's `at` is later than the entry's
    /// hybrid-logical-clock time (when it was recorded) by more than that.
    ///
    /// A device states when a callback attempt or a visit happened, and may log it afterwards, but
    /// it cannot have happened after it was recorded: a future-dated attempt would decide a
    /// callback's outcome until that date, a future-dated visit would count towards a month that
    /// has not come. The server runs this on every delta it receives (one mechanism for every field
    /// that carries such a claim); clients run it before they queue one.
    ///
    /// - Throws: ``ModelError/Code/invalidValue`` naming the field and both times.
    public func checkDatedValues(_ delta: RecordState) throws {
        guard delta.type == type else { return }
        for (path, register) in delta.fields {
            guard let slack = field(for: path)?.maxDatedAhead else { continue }
            for entry in register.values {
                guard let at = entry.value["at"]?.date else { continue }
                let recorded = Date(timeIntervalSince1970: Double(entry.time.millis) / 1000)
                if at.timeIntervalSince(recorded) > slack {
                    throw ModelError(
                        .invalidValue,
                        "\(type.rawValue) \(path) is dated \(Timestamp.format(at)), after it was recorded (\(Timestamp.format(recorded))); it cannot be dated in the future (\(Int(slack / 60)) minutes of clock slack)")
                }
            }
        }
    }
}

extension FieldSchema {
    /// The first entry of `delta` whose `at` is later than `now` (the server's clock) by more than
    /// its field's ``Field/maxDatedAhead``, or nil.
    ///
    /// ``checkDatedValues(_:)`` compares a claim with the entry's own clock, which the device
    /// chooses and the server accepts up to 7 days ahead: a handheld whose clock runs days fast
    /// would date a callback, a visit or a fix days ahead, and a verdict dated tomorrow opens a
    /// round nobody can fix today. The server checks the claim against its own time too; a delta
    /// it holds back this way is sent again at the next sync (`clock-ahead` is transient).
    public func entryDatedAhead(of delta: RecordState, now: Date) -> FieldPath? {
        guard delta.type == type else { return nil }
        for (path, register) in delta.fields.sorted(by: { $0.key < $1.key }) {
            guard let slack = field(for: path)?.maxDatedAhead else { continue }
            if register.values.contains(where: { ($0.value["at"]?.date).map { $0.timeIntervalSince(now) > slack } ?? false }) {
                return path
            }
        }
        return nil
    }
}
