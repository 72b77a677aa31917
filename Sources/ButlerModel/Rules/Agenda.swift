import Foundation

/// A butler's agenda: what is due or overdue in their zones, soonest first (`butler today`).
///
/// Derived from the records and an instant, never stored, like ``Escalation``, and built on it:
/// every rule in ``Escalation/evaluate(_:now:calendar:)`` is "a deadline has passed and the work is
/// still not done", so evaluating at the far future lists every deadline still pending, each
/// escalation's `since` being its deadline. An entry is **overdue** exactly when its escalation
/// applies at `now`: `butler today` and the supervisor's escalations can never disagree.
///
/// Beside the dated entries it lists what has no deadline: complaints escalated to major, leak
/// callbacks waiting for rain (their due time is unknown until it rains, 004 §三), and forms still
/// in draft (a patrol not submitted is not seen by the supervisor).
///
/// ```swift
/// let agenda = Agenda(try store.allRecords(), now: Date(), calendar: try store.estateCalendar(), zones: [try Zone("east-3")])
/// for item in agenda.items where item.overdue { print(item.kind, item.record, item.what) }
/// ```
public struct Agenda: Hashable, Sendable {
    /// One thing to do.
    public struct Item: Hashable, Sendable {
        public enum Kind: String, CaseIterable, Hashable, Sendable {
            /// The callback after a completed repair (001 §4.2.2.3–4), or a leak's waiting for rain.
            case callback
            /// A repair to start within 2 days of being reported (001 §4.3.1.2).
            case repairStart = "repair-start"
            /// A complaint to fix within its working-day limit (004 §三).
            case complaintFix = "complaint-fix"
            /// The callback after a complaint's fix (003 §4.4).
            case complaintCallback = "complaint-callback"
            /// A complaint unresolved after two rounds: now major (001 §4.2.3.7). No deadline of its own.
            case complaintEscalated = "complaint-escalated"
            /// A rectification notice to be rectified by its deadline (001 §4.3.1.1).
            case notice
            /// A form still in draft: not submitted for review. No deadline.
            case draft
        }

        public let kind: Kind
        /// The work order, complaint or form.
        public let record: RecordID
        /// For a ``Kind/notice``: the notice.
        public let notice: RectificationNotice.Reference?
        public let zone: Zone
        /// Where: the record's place.
        public let place: String?
        /// What is to be done, for people.
        public let what: String
        /// The deadline, or `nil` for the kinds that have none.
        public let due: Date?
        /// Whether the deadline has passed: the item's escalation applies now.
        public let overdue: Bool
        /// The escalation the supervisor sees for it now (``Escalation/Kind``), if any.
        public let escalation: Escalation.Kind?
        /// `"rain"` for a leak callback waiting for the first rain day after the repair.
        public let waitingFor: String?
        /// For an undated item: since when it waits (a draft's creation, a leak repair's completion).
        public let since: Date?

        /// `{"kind", "record", "notice", "zone", "place", "what", "due", "overdue", "escalation",
        /// "waitingFor", "since"}`: every key always present, times ISO 8601 UTC or `null`.
        public var jsonValue: JSONValue {
            [
                "kind": .string(kind.rawValue), "record": .string(record.rawValue),
                "notice": notice.map { .string($0.description) } ?? .null, "zone": .string(zone.rawValue),
                "place": place.map(JSONValue.string) ?? .null, "what": .string(what), "due": due?.wire ?? .null,
                "overdue": .bool(overdue), "escalation": escalation.map { .string($0.rawValue) } ?? .null,
                "waitingFor": waitingFor.map(JSONValue.string) ?? .null, "since": since?.wire ?? .null,
            ]
        }

        /// Dated items by deadline; then the undated: escalated complaints, callbacks waiting for
        /// rain, drafts, each oldest first.
        static func precedes(_ a: Item, _ b: Item) -> Bool {
            func key(_ i: Item) -> (Int, Date, Int, String, String) {
                let rank = i.due != nil ? 0 : i.kind == .complaintEscalated ? 1 : i.kind == .callback ? 2 : 3
                let order = Kind.allCases.firstIndex(of: i.kind) ?? 0
                return (rank, i.due ?? i.since ?? .distantPast, order, i.record.rawValue, i.notice?.notice ?? "")
            }
            return key(a) < key(b)
        }
    }

    /// The instant the agenda was drawn up at.
    public let now: Date
    /// The zones it covers; `nil`: every zone among the records.
    public let zones: Set<Zone>?
    /// Soonest first (``Item/precedes(_:_:)``).
    public let items: [Item]

    /// The agenda of `records` at `now`, in `zones` (every zone when `nil`).
    public init(_ records: [RecordState], now: Date, calendar: EstateCalendar = EstateCalendar(), zones: Set<Zone>? = nil) {
        self.now = now
        self.zones = zones
        let inZones = records.filter { state in zones.map { $0.contains(state.zone) } ?? true }
        var byID: [RecordID: RecordState] = [:]
        for state in inZones { byID[state.id] = state }
        let applying = Set(Escalation.evaluate(inZones, now: now, calendar: calendar).map(Self.key))
        var items: [Item] = []
        for pending in Escalation.evaluate(inZones, now: .distantFuture, calendar: calendar) {
            guard let state = byID[pending.record], let item = Self.item(for: pending, state, applying: applying) else { continue }
            items.append(item)
        }
        let callbacks = CallbackRecord.bySubject(inZones)
        for state in inZones {
            switch state.type {
            case .workOrder:
                guard let order = try? WorkOrder(state), Deadlines.waitsForRain(order, calendar: calendar),
                    !(callbacks[order.id.rawValue]?.outcome.isSettled ?? false)
                else { continue }
                items.append(Item(
                    kind: .callback, record: order.id, notice: nil, zone: order.zone, place: order.place,
                    what: "callback after the leak repair\(Self.colon(order.description))", due: nil, overdue: false,
                    escalation: nil, waitingFor: "rain", since: order.completedAt))
            case .inspectionForm:
                guard let form = try? InspectionForm(state), form.status.state == .draft else { continue }
                items.append(Item(
                    kind: .draft, record: form.id, notice: nil, zone: form.zone, place: form.place,
                    what: "\(form.template ?? "form") form not submitted\(form.status.round > 1 ? " (round \(form.status.round))" : "")", due: nil,
                    overdue: false, escalation: nil, waitingFor: nil, since: form.createdAt))
            case .photo, .complaint, .callback, .rainDay, .resident:
                continue
            }
        }
        self.items = items.sorted(by: Item.precedes)
    }

    /// What identifies an escalation across instants: its kind, record and notice.
    private static func key(_ e: Escalation) -> String {
        "\(e.kind.rawValue) \(e.record.rawValue) \(e.notice?.notice ?? "")"
    }

    /// The agenda entry for a pending escalation (one that applies at some instant).
    private static func item(for pending: Escalation, _ state: RecordState, applying: Set<String>) -> Item? {
        let escalation = applying.contains(key(pending)) ? pending.kind : nil
        let overdue = escalation != nil && pending.since != nil
        func make(_ kind: Item.Kind, place: String?, what: String) -> Item {
            Item(
                kind: kind, record: pending.record, notice: pending.notice, zone: pending.zone, place: place, what: what, due: pending.since,
                overdue: overdue, escalation: escalation, waitingFor: nil, since: nil)
        }
        switch (pending.kind, state.type) {
        case (.repairNotStarted, _):
            guard let order = try? WorkOrder(state) else { return nil }
            return make(.repairStart, place: order.place, what: "\(order.category?.rawValue ?? "") repair to start\(colon(order.description))")
        case (.callbackOverdue, .workOrder):
            guard let order = try? WorkOrder(state) else { return nil }
            return make(.callback, place: order.place, what: "callback after the \(order.category?.rawValue ?? "") repair\(colon(order.description))")
        case (.callbackOverdue, _):
            guard let complaint = try? Complaint(state) else { return nil }
            return make(
                .complaintCallback, place: complaint.place,
                what: "callback after the complaint's fix (round \(complaint.currentRound?.number ?? 1))\(colon(complaint.description))")
        case (.complaintFixOverdue, _):
            guard let complaint = try? Complaint(state) else { return nil }
            return make(
                .complaintFix, place: complaint.place,
                what: "\(complaint.effectiveLevel?.rawValue ?? "") complaint to fix (round \(complaint.currentRound?.number ?? 1))\(colon(complaint.description))")
        case (.complaintEscalated, _):
            guard let complaint = try? Complaint(state) else { return nil }
            return make(
                .complaintEscalated, place: complaint.place,
                what: "complaint unresolved after \(complaint.unresolvedRounds) rounds: now major (filed \(complaint.level?.rawValue ?? "?"))\(colon(complaint.description))")
        case (.rectificationOverdue, _):
            guard let form = try? InspectionForm(state), let ref = pending.notice, let notice = form.notices.first(where: { $0.id == ref.notice })
            else { return nil }
            return make(
                .notice, place: form.place,
                what: "rectification by \(notice.party?.rawValue ?? "?") of \(notice.item ?? "?")\(colon(notice.description))")
        }
    }

    private static func colon(_ text: String?) -> String {
        guard let text, !text.isEmpty else { return "" }
        return ": \(text)"
    }

    /// `{"now", "zones", "items"}`: `zones` sorted, or `null` for every zone.
    public var jsonValue: JSONValue {
        [
            "now": now.wire, "zones": zones.map { .array($0.sorted().map { .string($0.rawValue) }) } ?? .null,
            "items": .array(items.map(\.jsonValue)),
        ]
    }
}
