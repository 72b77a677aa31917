/// The rules that bind a record id to its type: ids derived from what a record is about (a photo's
/// zone and hash, a callback's subject, a rain day's zone and date) name their type, so nobody can take such an id first under
/// another type and make the real record unmergeable for ever.
public enum RecordIdentity {
    /// The prefix of a photo record id: `photo:<zone>:<sha256>`.
    public static let photoPrefix = "photo:"
    /// The prefix of a callback record id: `cb:<subject record id>`.
    public static let callbackPrefix = "cb:"

    /// Checks that `id` may name a record of `type` in `zone`.
    ///
    /// - Throws: ``ModelError/Code/recordMismatch`` naming the rule broken.
    public static func check(id: RecordID, type: RecordType, zone: Zone) throws {
        let raw = id.rawValue
        switch type {
        case .photo:
            let sha = raw.split(separator: ":").last.map(String.init) ?? ""
            guard Photo.isSHA256(sha), raw == (try? Photo.recordID(sha256: sha, zone: zone))?.rawValue else {
                throw ModelError(.recordMismatch, "a photo record's id must be photo:\(zone):<sha256>, not \(raw)")
            }
        case .callback:
            guard raw.hasPrefix(callbackPrefix), raw.utf8.count > callbackPrefix.utf8.count else {
                throw ModelError(.recordMismatch, "a callback record's id must be cb:<subject id>, not \(raw)")
            }
        case .rainDay:
            guard RainDay.day(inID: id, zone: zone) != nil else {
                throw ModelError(.recordMismatch, "a rain day's id must be rain:\(zone):<yyyy-MM-dd>, not \(raw)")
            }
        case .inspectionForm, .workOrder, .complaint, .resident:
            if let reserved = [(photoPrefix, "photo"), (callbackPrefix, "callback"), (RainDay.idPrefix, "rain-day")].first(where: { raw.hasPrefix($0.0) }) {
                throw ModelError(.recordMismatch, "the id \(raw) is reserved for a \(reserved.1) record, not a \(type.rawValue)")
            }
        }
    }
}

extension RecordLimits {
    /// Checks that a (merged) state stays within the limits every decoder enforces, so that a state
    /// the server stores can always be read back and served.
    ///
    /// - Throws: ``ModelError/Code/recordTooLarge`` naming the limit.
    public static func check(_ state: RecordState) throws {
        if state.context.replicas.count > maxReplicas {
            throw ModelError(.recordTooLarge, "record \(state.id) would name more than \(maxReplicas) replicas")
        }
        if state.context.cloud.count > maxCloudDots {
            throw ModelError(.recordTooLarge, "record \(state.id) would hold \(state.context.cloud.count) dots beyond its version vector; at most \(maxCloudDots)")
        }
        if state.fields.count > maxFields {
            throw ModelError(.recordTooLarge, "record \(state.id) would hold more than \(maxFields) fields")
        }
        for (path, register) in state.fields where register.count > maxSiblings {
            throw ModelError(.recordTooLarge, "field \(path) of record \(state.id) would hold more than \(maxSiblings) values")
        }
    }
}
