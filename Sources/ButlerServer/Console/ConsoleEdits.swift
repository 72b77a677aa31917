import ButlerModel
import Foundation

/// The console's decisions on a form, written the way a supervisor's handheld writes them: a
/// delta built with ButlerModel's operations by a replica of the console user's own, merged with
/// ``SyncStorage/merge(_:by:at:)`` so that ``DeltaAdmission`` judges it like any device's edit,
/// the audit log names `console:NAME`, and devices receive it at their next pull.
public enum ConsoleEdits {
    public enum Action: String, CaseIterable, Sendable {
        case review, close, reopen
    }

    /// The delta of `action` on `state` by `replica`, authored `author`, at wall time `now`.
    ///
    /// The edit's hybrid time is ticked after every time the record already holds (the same
    /// clock rule a device follows after a pull), and its dot is the replica's next counter in the
    /// record (`context.maxCounter(of:) + 1`, through ``RecordState/write(_:_:stamp:)``).
    /// - Throws: `invalid-transition` when the form is not in a state the action applies to.
    public static func delta(
        _ action: Action, on state: RecordState, replica: ReplicaID, author: String, note: String?, now: Date
    ) throws -> RecordState {
        var state = state
        var clock = HybridLogicalClock()
        for entries in state.fields.values { for entry in entries.values { clock.observe(entry.time, now: now) } }
        let stamp = EditStamp(author: try Author(replica: replica, name: author), time: clock.tick(now: now))
        let note = note.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        switch action {
        case .review: return try InspectionForm.review(&state, note: note, at: now, stamp: stamp)
        case .close: return try InspectionForm.close(&state, stamp: stamp)
        case .reopen: return try InspectionForm.reopen(&state, stamp: stamp)
        }
    }

    /// The device the console user's edits are merged as: a supervisor of the user's zones, under
    /// a name no device can take.
    public static func device(for user: ConsoleUser) -> DeviceRecord {
        DeviceRecord(name: user.deviceName, role: user.role, zones: user.zones, createdAt: user.createdAt, revokedAt: user.revokedAt)
    }

    /// The replica the server binds to `user`: one per user, the same on every request and node,
    /// so that two decisions of one user built from the same state take the same dot and the
    /// second is refused (`dot-reused`) instead of both landing.
    ///
    /// Its id is derived from the user's password hash (salted, kept only in the store), so no
    /// device can predict it and claim it first; it is bound to `console:NAME` on first use.
    public static func replica(for user: ConsoleUser, storage: any SyncStorage, now: Date) async throws -> ReplicaID {
        let digest = ConsoleSecrets.hash("butler-console-replica\u{0}" + user.passwordHash)
        let replica = try ReplicaID("r" + digest.prefix(16))
        if try await storage.bindReplica(replica, to: user.deviceName, at: now) { return replica }
        guard try await storage.replicaBindings().contains(where: { $0.replica == replica.rawValue && $0.device == user.deviceName }) else {
            throw ModelError(.foreignDot, "the console replica of \(user.name) is bound to another device")
        }
        return replica
    }

    /// Applies `action` to form `id` as `user`; returns the refusal to show when the merge (or the
    /// model) refused it — nothing is changed then — and `nil` when it was merged.
    public static func apply(
        _ action: Action, form id: RecordID, note: String?, user: ConsoleUser, storage: any SyncStorage, now: Date
    ) async throws -> ModelError? {
        guard let bytes = try await storage.encodedRecord(id: id) else { return ModelError(.unknownRecord, "no form \(id)") }
        let state = try JSONParser.parseRecordState(bytes)
        guard state.type == .inspectionForm, user.zones.contains(state.zone) else { return ModelError(.unknownRecord, "no form \(id)") }
        let replica = try await replica(for: user, storage: storage, now: now)
        let delta: RecordState
        do {
            delta = try Self.delta(action, on: state, replica: replica, author: user.deviceName, note: note, now: now)
        } catch let error as ModelError {
            return error
        }
        let outcomes = try await storage.merge([delta], by: device(for: user), at: now)
        if case .refused(let error) = outcomes.first { return error }
        return nil
    }
}
