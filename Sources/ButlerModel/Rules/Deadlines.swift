import Foundation

/// Derived facts: deadlines and escalations computed from records and the time, never stored.
///
/// Each function is pure, so every replica and the server compute the same answer for the same
/// records and instant.
public enum Deadlines {
    /// Repairs not started within this long are escalated to the supervisor (001 §4.3.1.2).
    public static let repairStartLimit: TimeInterval = 2 * 86_400

    /// When the callback after a repair is due (001 §4.2.2.3–4, 004 §三), or `nil` when the
    /// repair is not completed yet, or (for a leak) no rain has been recorded since.
    ///
    /// - `urgent-utility`, `neighbour`, `dangerous`: 24 hours after completion;
    /// - `leak` (under warranty): by the end of the first rainy day recorded for the order's zone
    ///   after the day of completion, in the estate's local time;
    /// - `general`, `major`: 2 days after completion.
    public static func callbackDue(for order: WorkOrder, calendar: EstateCalendar) -> Date? {
        guard let done = order.completedAt, let category = order.category else { return nil }
        switch category {
        case .urgentUtility, .neighbour, .dangerous:
            return done.addingTimeInterval(24 * 3600)
        case .general, .major:
            return done.addingTimeInterval(2 * 86_400)
        case .leak:
            guard let rain = calendar.firstRainDay(after: done, in: order.zone) else { return nil }
            return calendar.start(of: Day(ordinal: rain.ordinal + 1))
        }
    }

    /// When the callback after a complaint's fix is due: within 1 week for a major complaint,
    /// 2 weeks for the others (003 §4.4), from the latest round's fix.
    public static func callbackDue(for complaint: Complaint) -> Date? {
        guard let fixed = complaint.fixedAt, let level = complaint.effectiveLevel else { return nil }
        return fixed.addingTimeInterval(level == .major ? 7 * 86_400 : 14 * 86_400)
    }

    /// When a complaint must be fixed: 1 working day after it was reported (or its latest round
    /// opened) for a major complaint, 3 working days for the others (004 §三).
    public static func fixDue(for complaint: Complaint, calendar: EstateCalendar) -> Date? {
        guard let opened = complaint.rounds.last?.openedAt ?? complaint.reportedAt, let level = complaint.effectiveLevel else { return nil }
        return calendar.addingWorkingDays(level == .major ? 1 : 3, to: opened)
    }

    /// When a repair not yet started must be escalated: 2 days after it was reported.
    public static func startDeadline(for order: WorkOrder) -> Date? {
        order.reportedAt.map { $0.addingTimeInterval(repairStartLimit) }
    }

    /// Whether the callback after `order` waits for rain: a completed leak repair with no rain
    /// day recorded for its zone since the day of completion (its due time is then unknown).
    public static func waitsForRain(_ order: WorkOrder, calendar: EstateCalendar) -> Bool {
        guard order.category == .leak, let done = order.completedAt else { return false }
        return calendar.firstRainDay(after: done, in: order.zone) == nil
    }

    private typealias Day = EstateCalendar.Day
}

/// Something a supervisor must act on, derived from the records and the time.
public struct Escalation: Hashable, Sendable {
    public enum Kind: String, CaseIterable, Hashable, Sendable {
        /// A repair not started within 2 days of being reported (001 §4.3.1.2).
        case repairNotStarted = "repair-not-started"
        /// A complaint unresolved after two rounds: now a major complaint.
        case complaintEscalated = "complaint-escalated"
        /// A complaint not fixed within its working-day limit.
        case complaintFixOverdue = "complaint-fix-overdue"
        /// A rectification notice past its deadline and still open.
        case rectificationOverdue = "rectification-overdue"
        /// A callback past its due time with no verdict from the resident.
        case callbackOverdue = "callback-overdue"
    }

    public let kind: Kind
    public let record: RecordID
    public let zone: Zone
    /// Since when it applies (the missed deadline).
    public let since: Date?
    public let detail: String
    /// For an overdue rectification notice: the notice (``RectificationNotice/Reference``) and
    /// its evidence photos, the grounds for fining the party. `nil` for the other kinds.
    public var notice: RectificationNotice.Reference? = nil
    public var evidence: [RectificationNotice.Evidence]? = nil

    /// `notice` and `evidence` appear only for the escalations that have them.
    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = [
            "kind": .string(kind.rawValue), "record": .string(record.rawValue), "zone": .string(zone.rawValue),
            "since": since?.wire ?? .null, "detail": .string(detail),
        ]
        if let notice { o["notice"] = .string(notice.description) }
        if let evidence { o["evidence"] = .array(evidence.map(\.jsonValue)) }
        return .object(o)
    }

    /// Every escalation the records hold at `now`, ordered by kind then record.
    public static func evaluate(_ records: [RecordState], now: Date, calendar: EstateCalendar = EstateCalendar()) -> [Escalation] {
        let callbacks = CallbackRecord.bySubject(records)
        func callbackSettled(_ subject: RecordID) -> Bool {
            guard let cb = callbacks[subject.rawValue] else { return false }
            return cb.outcome.isSettled
        }
        var found: [Escalation] = []
        for state in records {
            switch state.type {
            case .workOrder:
                guard let order = try? WorkOrder(state) else { continue }
                if order.startedAt == nil, let deadline = Deadlines.startDeadline(for: order), now > deadline {
                    found.append(Escalation(
                        kind: .repairNotStarted, record: order.id, zone: order.zone, since: deadline,
                        detail: "Reported \(order.reportedAt.map(Timestamp.format) ?? "?") and not started within 2 days."))
                }
                if let due = Deadlines.callbackDue(for: order, calendar: calendar), now > due, !callbackSettled(order.id) {
                    found.append(Escalation(
                        kind: .callbackOverdue, record: order.id, zone: order.zone, since: due,
                        detail: "Callback after the \(order.category?.rawValue ?? "") repair was due \(Timestamp.format(due))."))
                }
            case .complaint:
                guard let complaint = try? Complaint(state), complaint.status != .closed else { continue }
                if complaint.isEscalated {
                    found.append(Escalation(
                        kind: .complaintEscalated, record: complaint.id, zone: complaint.zone, since: nil,
                        detail: "Unresolved after \(complaint.unresolvedRounds) rounds: now a major complaint (filed as \(complaint.level?.rawValue ?? "?"))."))
                }
                if complaint.fixedAt == nil,
                    let due = Deadlines.fixDue(for: complaint, calendar: calendar), now > due
                {
                    found.append(Escalation(
                        kind: .complaintFixOverdue, record: complaint.id, zone: complaint.zone, since: due,
                        detail: "A \(complaint.effectiveLevel?.rawValue ?? "") complaint not fixed by \(Timestamp.format(due))."))
                }
                if let due = Deadlines.callbackDue(for: complaint), now > due, complaint.callbackOutcome(legacy: callbacks[complaint.id.rawValue]) == .pending {
                    found.append(Escalation(
                        kind: .callbackOverdue, record: complaint.id, zone: complaint.zone, since: due,
                        detail: "Callback after the complaint's fix was due \(Timestamp.format(due))."))
                }
            case .inspectionForm:
                guard let form = try? InspectionForm(state) else { continue }
                for notice in form.notices where notice.isOverdue(now: now) {
                    found.append(Escalation(
                        kind: .rectificationOverdue, record: form.id, zone: form.zone, since: notice.deadline,
                        detail: "Rectification notice \(notice.id) to \(notice.party?.rawValue ?? "?") for \(notice.item ?? "?") was due \(notice.deadline.map(Timestamp.format) ?? "?").",
                        notice: RectificationNotice.Reference(form: form.id, notice: notice.id), evidence: notice.photos))
                }
            case .photo, .callback, .rainDay, .resident:
                continue
            }
        }
        return found.sorted { ($0.kind.rawValue, $0.record, $0.detail) < ($1.kind.rawValue, $1.record, $1.detail) }
    }
}
