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
            let escalations = Escalation.evaluate(records, now: configuration.clock.now(), calendar: configuration.calendar)
            return Response.json(["escalations": .array(escalations.map(\.jsonValue))])
        }
        group.get("views/callbacks") { _, context in
            let records = try await storage.records(zones: context.device.zones)
            return Response.json(["callbacks": .array(Self.callbacks(records, now: configuration.clock.now(), calendar: configuration.calendar))])
        }
    }

    /// Every completed repair and fixed complaint with its callback due time and outcome.
    static func callbacks(_ records: [RecordState], now: Date, calendar: EstateCalendar) -> [JSONValue] {
        let outcomes = CallbackRecord.bySubject(records)
        var rows: [JSONValue] = []
        for state in records {
            let due: Date?
            switch state.type {
            case .workOrder:
                guard let order = try? WorkOrder(state), order.completedAt != nil else { continue }
                due = Deadlines.callbackDue(for: order, calendar: calendar)
            case .complaint:
                guard let complaint = try? Complaint(state), complaint.fixedAt != nil else { continue }
                due = Deadlines.callbackDue(for: complaint)
            default:
                continue
            }
            let outcome = outcomes[state.id.rawValue]?.outcome ?? .pending
            rows.append([
                "subject": .string(state.id.rawValue), "subjectType": .string(state.type.rawValue), "zone": .string(state.zone.rawValue),
                "due": due.map { .string(Timestamp.format($0)) } ?? .null, "outcome": .string(outcome.rawValue),
                "overdue": .bool(outcome == .pending && due.map { now > $0 } == true),
            ])
        }
        return rows
    }
}
