import Foundation

/// A repair work order (派工单), from a resident's request or a patrol defect.
///
/// Its status is derived from its times, never stored: reported → started → completed.
public struct WorkOrder: Hashable, Sendable {
    public enum Status: String, Hashable, Sendable {
        case reported, started, completed
    }

    public let id: RecordID
    public let zone: Zone
    public let place: String?
    public let category: RepairCategory?
    public let description: String?
    public let reportedAt: Date?
    public let startedAt: Date?
    public let completedAt: Date?
    /// The record the request came from, e.g. the inspection form that found the defect.
    public let source: String?
    public let conflicts: [Conflict]

    public var status: Status {
        if completedAt != nil { return .completed }
        if startedAt != nil { return .started }
        return .reported
    }

    public init(_ state: RecordState) throws {
        guard state.type == .workOrder else { throw ModelError(.unknownRecord, "\(state.id) is a \(state.type.rawValue), not a work order") }
        id = state.id
        zone = state.zone
        var scalars: [String: JSONValue] = [:]
        var conflicts: [Conflict] = []
        for r in Resolver.resolveAll(state) {
            if let c = Conflict(record: state.id, resolution: r) { conflicts.append(c) }
            scalars[r.path.rawValue] = r.value
        }
        place = scalars["place"]?.stringValue
        category = scalars["category"]?.stringValue.flatMap(RepairCategory.init(rawValue:))
        description = scalars["description"]?.stringValue
        reportedAt = scalars["reportedAt"]?.date
        startedAt = scalars["startedAt"]?.date
        completedAt = scalars["completedAt"]?.date
        source = scalars["source"]?.stringValue
        self.conflicts = conflicts
    }

    /// Opens a work order.
    public static func create(
        id: RecordID, zone: Zone, place: String, category: RepairCategory, description: String?, source: RecordID? = nil,
        reportedAt: Date, stamp: EditStamp
    ) throws -> RecordState {
        var state = RecordState(id: id, type: .workOrder, zone: zone)
        var delta = state
        try delta.merge(state.write("place", .string(place), stamp: stamp))
        try delta.merge(state.write("category", .string(category.rawValue), stamp: stamp))
        if let description { try delta.merge(state.write("description", .string(description), stamp: stamp)) }
        if let source { try delta.merge(state.write("source", .string(source.rawValue), stamp: stamp)) }
        try delta.merge(state.write("reportedAt", reportedAt.wire, stamp: stamp))
        try FieldSchema.workOrder.validate(delta)
        return delta
    }

    /// Records when work started.
    @discardableResult
    public static func start(_ state: inout RecordState, at: Date, stamp: EditStamp) throws -> RecordState {
        let order = try WorkOrder(state)
        if let reported = order.reportedAt, at < reported {
            throw ModelError(.invalidTransition, "work order \(state.id) cannot start before it was reported (\(Timestamp.format(reported)))")
        }
        return state.write("startedAt", at.wire, stamp: stamp)
    }

    /// Records when the repair was completed (starting it too, if nobody recorded a start).
    @discardableResult
    public static func complete(_ state: inout RecordState, at: Date, stamp: EditStamp) throws -> RecordState {
        let order = try WorkOrder(state)
        if let started = order.startedAt ?? order.reportedAt, at < started {
            throw ModelError(.invalidTransition, "work order \(state.id) cannot complete before \(Timestamp.format(started))")
        }
        var copy = state
        var delta = RecordState(id: state.id, type: .workOrder, zone: state.zone)
        if order.startedAt == nil { try delta.merge(copy.write("startedAt", at.wire, stamp: stamp)) }
        try delta.merge(copy.write("completedAt", at.wire, stamp: stamp))
        state = copy
        return delta
    }

    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(id.rawValue), "zone": .string(zone.rawValue), "status": .string(status.rawValue),
            "conflicts": .array(conflicts.map(\.jsonValue)),
        ]
        o["place"] = place.map(JSONValue.string) ?? .null
        o["category"] = category.map { .string($0.rawValue) } ?? .null
        o["description"] = description.map(JSONValue.string) ?? .null
        o["reportedAt"] = reportedAt?.wire ?? .null
        o["startedAt"] = startedAt?.wire ?? .null
        o["completedAt"] = completedAt?.wire ?? .null
        if let source { o["source"] = .string(source) }
        return .object(o)
    }
}
