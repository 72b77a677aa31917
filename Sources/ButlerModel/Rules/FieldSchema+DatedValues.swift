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
