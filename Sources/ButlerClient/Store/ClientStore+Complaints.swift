import ButlerModel
import Foundation
import GRDB

/// Complaints (投诉, 003 §3–4): filed, fixed, called back round by round, approved by the project
/// manager. Every edit is one durable transaction, like the rest of the edit API.
extension ClientStore {
    /// Files a complaint; returns its id. Its first round opens now.
    public func createComplaint(
        zone: Zone, place: String, level: ComplaintLevel, description: String, resident: String? = nil
    ) throws -> RecordID {
        let id = try newRecordID("cp")
        return try edit(id, create: (.complaint, zone)) { state, stamp, now in
            let delta = try Complaint.create(
                id: id, zone: zone, place: place, level: level, description: description, reportedAt: now, resident: resident, stamp: stamp)
            try state.merge(delta)
            return (delta, id)
        }
    }

    /// Records that the current round's problem is fixed (now, or `at`); returns the fix's id.
    public func fixComplaint(_ id: RecordID, at: Date? = nil, note: String? = nil) throws -> String {
        try edit(id) { state, stamp, now in
            try Self.requireComplaint(state)
            if let at { try Self.checkNotFuture(at, now: now, what: "a fix") }
            let (fix, delta) = try Complaint.recordFix(&state, at: at ?? now, note: note, stamp: stamp)
            return (delta, fix)
        }
    }

    /// Logs a callback attempt on the complaint's current round; returns the attempt's id.
    public func logComplaintCallback(
        _ id: RecordID, channel: CallbackChannel, reached: Bool, satisfaction: Satisfaction?, note: String?, at: Date? = nil
    ) throws -> String {
        try edit(id) { state, stamp, now in
            try Self.requireComplaint(state)
            if let at { try Self.checkNotFuture(at, now: now, what: "a callback attempt") }
            let (attempt, delta) = try Complaint.logCallback(
                &state, at: at ?? now, channel: channel, reached: reached, satisfaction: satisfaction, note: note, stamp: stamp)
            return (delta, attempt)
        }
    }

    /// The project manager's approval, which closes a resolved complaint. Refused at once on any
    /// other device: the server would refuse it (`role-forbidden`).
    public func approveComplaint(_ id: RecordID, note: String? = nil) throws {
        try write { db in
            try Self.requireRole(db, to: "approve (close) a complaint", allowed: [.manager], who: "the project manager")
            try self.edit(db, id) { state, stamp, now in
                try Self.requireComplaint(state)
                return (try Complaint.approve(&state, at: now, note: note, stamp: stamp), ())
            }
        }
    }

    /// The resolved view of a complaint.
    public func complaint(_ id: RecordID) throws -> Complaint {
        guard let state = try record(id), state.type == .complaint else { throw ClientError(.unknownRecord, "no complaint \(id) on this device") }
        return try ClientError.mapping { try Complaint(state) }
    }

    /// Every complaint on the device (of `zone`, when given), by id.
    public func complaints(zone: Zone? = nil) throws -> [Complaint] {
        try records(of: .complaint).filter { zone == nil || $0.zone == zone }.map { state in
            try ClientError.mapping { try Complaint(state) }
        }
    }

    /// Closes a work order's callback as unreachable after repeated failed attempts (003).
    public func closeCallbackUnreachable(workOrder: RecordID, note: String? = nil) throws {
        let id = try CallbackRecord.recordID(for: workOrder)
        guard try record(id) != nil else {
            throw ClientError(.invalidTransition, "no callback attempt was logged for \(workOrder); log the attempts first")
        }
        try edit(id) { state, stamp, now in (try CallbackRecord.closeUnreachable(&state, at: now, note: note, stamp: stamp), ()) }
    }

    static func requireComplaint(_ state: RecordState) throws {
        guard state.type == .complaint else { throw ClientError(.unknownRecord, "\(state.id) is a \(state.type.rawValue), not a complaint") }
    }

    /// Refuses a time in the future beyond the clock slack the server allows (``CallbackRecord/maxDatedAhead``).
    static func checkNotFuture(_ at: Date, now: Date, what: String) throws {
        if at.timeIntervalSince(now) > CallbackRecord.maxDatedAhead {
            throw ClientError(.invalidValue, "\(what) cannot be dated in the future (\(Timestamp.format(at)); now is \(Timestamp.format(now)))")
        }
    }
}
