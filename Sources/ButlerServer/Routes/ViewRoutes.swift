import ButlerModel
import Foundation
import Hummingbird

/// The supervisor's views of the caller's zones, computed with the ButlerModel rules.
struct ViewRoutes {
    let storage: any SyncStorage
    let configuration: ServerConfiguration

    func register(on group: RouterGroup<DeviceRequestContext>) {
        group.get("views/conflicts") { _, context in
            let records = try await storage.records(zones: context.device.zones)
            let conflicts = records.flatMap { (try? $0.conflicts()) ?? [] }
            return Response.json(["conflicts": .array(conflicts.map(\.jsonValue))])
        }
        group.get("views/escalations") { _, context in
            let records = try await storage.records(zones: context.device.zones)
            let escalations = Escalation.evaluate(records, now: configuration.clock.now(), calendar: configuration.calendar.withRain(from: records))
            return Response.json(["escalations": .array(escalations.map(\.jsonValue))])
        }
        group.get("views/callbacks") { _, context in
            let records = try await storage.records(zones: context.device.zones)
            let calendar = configuration.calendar.withRain(from: records)
            return Response.json(["callbacks": .array(Self.callbacks(records, now: configuration.clock.now(), calendar: calendar))])
        }
    }

    /// Every completed repair and fixed complaint with its callback due time and outcome; a leak
    /// repair with no rain recorded in its zone since says `"waitingFor": "rain"` (and `"due": null`).
    /// `calendar` must hold the rain days of the records' zones (``EstateCalendar/withRain(from:)``).
    static func callbacks(_ records: [RecordState], now: Date, calendar: EstateCalendar) -> [JSONValue] {
        let outcomes = CallbackRecord.bySubject(records)
        var rows: [JSONValue] = []
        for state in records {
            let due: Date?
            var waitingFor: JSONValue?
            var outcome = outcomes[state.id.rawValue]?.outcome ?? .pending
            // Whether a missed due time makes it overdue: a callback with no verdict, not closed.
            let open: Bool
            switch state.type {
            case .workOrder:
                guard let order = try? WorkOrder(state), order.completedAt != nil else { continue }
                due = Deadlines.callbackDue(for: order, calendar: calendar)
                if Deadlines.waitsForRain(order, calendar: calendar) { waitingFor = "rain" }
                open = !outcome.isSettled
            case .complaint:
                guard let complaint = try? Complaint(state), complaint.fixedAt != nil else { continue }
                due = Deadlines.callbackDue(for: complaint)
                outcome = complaint.callbackOutcome(legacy: outcomes[state.id.rawValue])
                open = outcome == .pending
            default:
                continue
            }
            var row: [String: JSONValue] = [
                "subject": .string(state.id.rawValue), "subjectType": .string(state.type.rawValue), "zone": .string(state.zone.rawValue),
                "due": due.map { .string(Timestamp.format($0)) } ?? .null, "outcome": .string(outcome.rawValue),
                "overdue": .bool(open && due.map { now > $0 } == true),
            ]
            if let waitingFor { row["waitingFor"] = waitingFor }
            rows.append(.object(row))
        }
        return rows
    }
}
