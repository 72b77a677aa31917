import ButlerModel
import Foundation
import GRDB

/// The typed edit API: every operation of the model, each one durable transaction that updates the
/// record and appends its delta to the outbox.
extension ClientStore {
    /// Runs one edit of record `id`: ticks the clock, applies `change` to the stored state (or to a
    /// new one of `type` in `zone` when the record does not exist yet and `create` says so), saves
    /// the state and queues the delta. An edit whose delta is empty (a detach that found nothing
    /// left on the photo record) writes nothing.
    func edit<T>(
        _ id: RecordID, create: (type: RecordType, zone: Zone)? = nil,
        _ change: (inout RecordState, EditStamp, Date) throws -> (delta: RecordState, result: T)
    ) throws -> T {
        try write { db in try self.edit(db, id, create: create, change) }
    }

    func edit<T>(
        _ db: Database, _ id: RecordID, create: (type: RecordType, zone: Zone)? = nil,
        _ change: (inout RecordState, EditStamp, Date) throws -> (delta: RecordState, result: T)
    ) throws -> T {
        let identity = try Self.identity(db)
        var state: RecordState
        if let existing = try self.loadRecord(db, id) {
            state = existing
        } else if let create {
            if let zones = identity.device?.zones, !zones.contains(create.zone) {
                throw ClientError(
                    .zoneNotAssigned,
                    "this device works in zone(s) \(zones.map(\.rawValue).joined(separator: ", ")), not \(create.zone)")
            }
            state = RecordState(id: id, type: create.type, zone: create.zone)
        } else {
            throw ClientError(.unknownRecord, "no record \(id) on this device")
        }
        let now = clock.now()
        var hlc = try editClock(db, now: now)
        let stamp = EditStamp(author: try identity.author, time: hlc.tick(now: now))
        // Counters stop at 2⁵³ − 1 (every JSON reader holds them exactly): never mint past it. The
        // server bounds how far a counter can move, so only a damaged store gets here.
        guard state.context.maxCounter(of: identity.replica) < Dot.maxCounter - 1024 else {
            throw ClientError(.invalidArgument, "this device's edit counter on \(state.id) has reached its limit (the store looks damaged); ask support")
        }
        let (delta, result) = try change(&state, stamp, now)
        if !delta.isEmpty {
            try self.saveRecord(db, state)
            try db.cachedStatement(sql: "INSERT INTO outbox (record_id, delta) VALUES (?, ?)")
                .execute(arguments: [state.id.rawValue, try sealed(delta)])
            try Self.saveClock(db, hlc)
        }
        return result
    }

    func template(of state: RecordState) -> FormTemplate? {
        guard let id = Resolver.resolve("template", in: state)?.value?.stringValue else { return nil }
        return templates.templates[id]
    }

    func newRecordID(_ prefix: String) throws -> RecordID {
        try RecordID("\(prefix)-\(entropy.uuidString())")
    }

    // MARK: Inspection forms

    /// Creates a draft form from a template; returns its id.
    public func createForm(template templateID: String, zone: Zone, place: String) throws -> RecordID {
        let template: FormTemplate
        template = try ClientError.mapping { try templates.template(templateID) }
        let id = try newRecordID("form")
        return try edit(id, create: (.inspectionForm, zone)) { state, stamp, now in
            let delta = try InspectionForm.create(id: id, zone: zone, template: template, place: place, at: now, stamp: stamp)
            try state.merge(delta)
            return (delta, id)
        }
    }

    /// Sets a checklist item's result, with an optional note.
    public func setResult(form: RecordID, item: String, result: ChecklistResult, note: String? = nil) throws {
        try edit(form) { state, stamp, now in
            (try InspectionForm.setResult(&state, item: item, result: result, note: note, template: template(of: state), at: now, stamp: stamp), ())
        }
    }

    /// Adds a note to an item, or to the form when `item` is `nil`; returns the note id.
    @discardableResult
    public func addNote(form: RecordID, item: String? = nil, text: String) throws -> String {
        try edit(form) { state, stamp, now in
            let delta = try InspectionForm.addNote(&state, item: item, text: text, template: template(of: state), at: now, stamp: stamp)
            return (delta, delta.fields.keys.first?.segments.last.map(String.init) ?? "")
        }
    }

    /// Submits a draft form for review.
    public func submit(form: RecordID) throws {
        try edit(form) { state, stamp, _ in (try InspectionForm.submit(&state, stamp: stamp), ()) }
    }

    /// Reviews a submitted form (supervisor), with an optional note.
    ///
    /// - Throws: ``ClientError/Code/roleForbidden`` on a device that is not known to be a
    ///   supervisor's; nothing is queued.
    public func review(form: RecordID, note: String? = nil) throws {
        try write { db in
            try Self.requireSupervisor(db, to: "review a form")
            try self.edit(db, form) { state, stamp, now in (try InspectionForm.review(&state, note: note, at: now, stamp: stamp), ()) }
        }
    }

    /// Closes a reviewed form (supervisor).
    ///
    /// - Throws: ``ClientError/Code/roleForbidden`` on a device that is not known to be a
    ///   supervisor's; nothing is queued.
    public func close(form: RecordID) throws {
        try write { db in
            try Self.requireSupervisor(db, to: "close a form")
            try self.edit(db, form) { state, stamp, _ in (try InspectionForm.close(&state, stamp: stamp), ()) }
        }
    }

    /// Reopens a submitted, reviewed or closed form for a new round. Reopening a reviewed or
    /// closed form undoes a supervisor's decision, so only a supervisor's device does it.
    public func reopen(form: RecordID) throws {
        try write { db in
            if let state = try self.loadRecord(db, form), state.type == .inspectionForm {
                let status = try ClientError.mapping { try InspectionForm(state).status.state }
                if status == .reviewed || status == .closed { try Self.requireSupervisor(db, to: "reopen a \(status.rawValue) form") }
            }
            try self.edit(db, form) { state, stamp, _ in (try InspectionForm.reopen(&state, stamp: stamp), ()) }
        }
    }

    /// Refuses at once, before anything is queued, an edit that the server accepts only from a
    /// supervisor's device: the server would refuse it (`role-forbidden`) at the next sync, after
    /// the butler has moved on. The role is the one the server gave at the last sync; a device
    /// that has never synced does not know it yet, and is refused too.
    static func requireSupervisor(_ db: Database, to action: String) throws {
        try requireRole(db, to: action, allowed: [.supervisor, .manager], who: "a supervisor")
    }

    /// Refuses at once an edit the server accepts only from `allowed` roles (see ``requireSupervisor(_:to:)``).
    static func requireRole(_ db: Database, to action: String, allowed: Set<DeviceRole>, who: String) throws {
        guard let role = try identity(db).device?.role else {
            throw ClientError(.roleForbidden, "only \(who) may \(action), and this handheld does not know its role yet: run `butler sync` once first")
        }
        guard allowed.contains(role) else {
            throw ClientError(.roleForbidden, "only \(who) may \(action); this device is registered as a \(role.rawValue)'s")
        }
    }

    /// Raises a rectification notice for a defect; returns the notice id.
    public func addNotice(form: RecordID, item: String, party: ResponsibleParty, description: String?, deadline: Date) throws -> String {
        try edit(form) { state, stamp, now in
            let (id, delta) = try InspectionForm.addNotice(
                &state, item: item, party: party, description: description, deadline: deadline, template: template(of: state), at: now,
                stamp: stamp)
            return (delta, id)
        }
    }

    /// Moves a rectification notice forward; `verified` only on a supervisor's device (as the
    /// server rules), see ``resolveNotice(_:note:)`` and ``verifyNotice(_:note:)``.
    public func setNoticeStatus(form: RecordID, notice: String, to status: NoticeStatus) throws {
        try write { db in
            if status == .verified { try Self.requireSupervisor(db, to: "verify a rectification") }
            try self.edit(db, form) { state, stamp, _ in (try InspectionForm.setNoticeStatus(&state, notice: notice, to: status, stamp: stamp), ()) }
        }
    }

    /// The resolved view of a form.
    public func form(_ id: RecordID) throws -> InspectionForm {
        guard let state = try record(id) else { throw ClientError(.unknownRecord, "no form \(id) on this device") }
        return try ClientError.mapping { try InspectionForm(state) }
    }

    /// The resolved views of several forms, in one read.
    ///
    /// - Throws: ``ClientError/Code/unknownRecord`` when one of them is not on this device.
    public func forms(_ ids: [RecordID]) throws -> [InspectionForm] {
        let states = try read { db in try ids.map { id in (id, try self.loadRecord(db, id)) } }
        return try states.map { id, state in
            guard let state else { throw ClientError(.unknownRecord, "no form \(id) on this device") }
            return try ClientError.mapping { try InspectionForm(state) }
        }
    }

    /// Every form on the device, resolved.
    public func forms() throws -> [InspectionForm] {
        return try ClientError.mapping { try records(of: .inspectionForm).map(InspectionForm.init) }
    }

    // MARK: Work orders and callbacks

    /// Opens a repair work order; returns its id.
    public func createWorkOrder(zone: Zone, place: String, category: RepairCategory, description: String?, source: RecordID? = nil) throws -> RecordID {
        let id = try newRecordID("wo")
        return try edit(id, create: (.workOrder, zone)) { state, stamp, now in
            let delta = try WorkOrder.create(
                id: id, zone: zone, place: place, category: category, description: description, source: source, reportedAt: now, stamp: stamp)
            try state.merge(delta)
            return (delta, id)
        }
    }

    /// Records when work started (now, unless given).
    public func startWorkOrder(_ id: RecordID, at: Date? = nil) throws {
        try edit(id) { state, stamp, now in (try WorkOrder.start(&state, at: at ?? now, stamp: stamp), ()) }
    }

    /// Records when the repair was completed (now, unless given).
    public func completeWorkOrder(_ id: RecordID, at: Date? = nil) throws {
        try edit(id) { state, stamp, now in (try WorkOrder.complete(&state, at: at ?? now, stamp: stamp), ()) }
    }

    /// The resolved view of a work order.
    public func workOrder(_ id: RecordID) throws -> WorkOrder {
        guard let state = try record(id), state.type == .workOrder else { throw ClientError(.unknownRecord, "no work order \(id) on this device") }
        return try ClientError.mapping { try WorkOrder(state) }
    }

    /// Logs one callback attempt for a work order (opening its callback record if needed); returns the attempt id.
    @discardableResult
    public func logCallback(
        workOrder: RecordID, channel: CallbackChannel, reached: Bool, satisfaction: Satisfaction?, note: String?, at: Date? = nil
    ) throws -> String {
        try write { db in
            guard let order = try self.loadRecord(db, workOrder), order.type == .workOrder else {
                throw ClientError(.unknownRecord, "no work order \(workOrder) on this device")
            }
            let id = try CallbackRecord.recordID(for: workOrder)
            if try self.loadRecord(db, id) == nil {
                try self.edit(db, id, create: (.callback, order.zone)) { state, stamp, _ in
                    let delta = try CallbackRecord.create(subject: workOrder, subjectType: .workOrder, zone: order.zone, stamp: stamp)
                    try state.merge(delta)
                    return (delta, ())
                }
            }
            return try self.edit(db, id) { state, stamp, now in
                // Honest times (issue 13): not before the repair was completed, not in the future.
                if let at {
                    try Self.checkNotFuture(at, now: now, what: "a callback attempt")
                    if let completed = try WorkOrder(order).completedAt, at < completed {
                        throw ClientError(.invalidValue, "a callback attempt cannot predate the repair's completion (\(Timestamp.format(completed)))")
                    }
                }
                let (attempt, delta) = try CallbackRecord.logAttempt(
                    &state, at: at ?? now, channel: channel, reached: reached, satisfaction: satisfaction, note: note, stamp: stamp)
                return (delta, attempt)
            }
        }
    }

    /// The callbacks of a work order, or `nil` when none was logged yet.
    public func callbacks(workOrder: RecordID) throws -> CallbackRecord? {
        guard let state = try record(try CallbackRecord.recordID(for: workOrder)) else { return nil }
        return try ClientError.mapping { try CallbackRecord(state) }
    }
}
