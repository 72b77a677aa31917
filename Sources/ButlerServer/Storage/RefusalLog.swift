import ButlerModel
import Foundation
import Logging
import Metrics

/// A refusal of one pushed delta, before the store keeps it (``RefusalLog``).
public struct RefusalDraft: Hashable, Sendable {
    /// The record the delta was to; `nil` when the delta could not be read.
    public let record: String?
    public let zone: String?
    public let code: ErrorCode
    public let message: String
    /// The dots the delta writes, sorted, at most ``RefusalLog/maxDots``.
    public let dots: [Dot]

    public init(delta: RecordState?, code: ErrorCode, message: String) {
        record = delta?.id.rawValue
        zone = delta?.zone.rawValue
        self.code = code
        self.message = String(message.prefix(RefusalLog.maxMessageCharacters))
        var dots = Set<Dot>()
        for register in delta?.fields.values.map({ $0 }) ?? [] { dots.formUnion(register.keys) }
        self.dots = Array(dots.sorted().prefix(RefusalLog.maxDots))
    }

    /// What identifies the refusal of the same edit again: a held edit re-sent at every sync is
    /// one pending refusal refused many times, not many.
    var key: RefusalLog.Key { RefusalLog.Key(record: record ?? "", code: code.rawValue, dots: RefusalLog.dotsText(dots)) }
}

/// An edit the server refused that the device may still hold: what the console's devices page
/// lists as pending, until it is resolved (``RefusalLog``).
public struct PendingRefusal: Hashable, Sendable {
    public let id: Int64
    public let device: String
    /// The record the edit was to; `nil` when the delta could not be read.
    public let record: String?
    public let zone: String?
    public let code: ErrorCode
    public let message: String
    /// The dots the edit writes (`replica:counter`), sorted.
    public let dots: [String]
    public let firstAt: Date
    public let lastAt: Date
    /// How many times the server refused it (a held edit is sent again at every sync).
    public let times: Int

    public init(
        id: Int64, device: String, record: String?, zone: String?, code: ErrorCode, message: String, dots: [String], firstAt: Date, lastAt: Date,
        times: Int
    ) {
        self.id = id
        self.device = device
        self.record = record
        self.zone = zone
        self.code = code
        self.message = message
        self.dots = dots
        self.firstAt = firstAt
        self.lastAt = lastAt
        self.times = times
    }
}

extension PendingRefusal {
    /// What `butler-server device list --json` prints of it.
    public var jsonValue: JSONValue {
        [
            "id": .int(id), "record": record.map(JSONValue.string) ?? .null, "zone": zone.map(JSONValue.string) ?? .null,
            "code": .string(code.rawValue), "message": .string(message), "dots": .array(dots.map(JSONValue.string)),
            "firstAt": .string(Timestamp.format(firstAt)), "lastAt": .string(Timestamp.format(lastAt)), "times": .int(Int64(times)),
            "held": .bool(ErrorCode.held.contains(code)),
        ]
    }
}

/// How a pending refusal ends, apart from the merge itself (see ``RefusalLog``).
public enum RefusalResolution: Hashable, Sendable {
    /// The device moved to a fresh replica id (`POST /v1/devices/me/replicas`): it re-stamps the
    /// edits refused as `dot-reused` or `foreign-dot` under it and sends them again.
    case replicaMoved
    /// The butler discarded these edits (`butler refused discard`), reported by the device
    /// (`POST /v1/devices/me/discarded`): the refusals of `record` whose dots are all among `dots`.
    case discarded(record: RecordID, dots: Set<Dot>)
    /// A supervisor marked refusal `id` handled on the console.
    case dismissed(id: Int64)
}

/// The server's memory of the edits it refused, per device, for the console's devices page:
/// kept by every store in the push's merge transaction, so a refusal is on record exactly when
/// the push that earned it committed.
///
/// A refusal stays pending until:
/// - **delivered** — a later push of the device has a delta to the same record accepted, and the
///   record then holds every dot of the refused edit, all minted by the device's own replica ids
///   (a held edit delivered, an edit re-stamped after a fast clock was put right, or the edits of
///   a joined push entry delivered one by one);
/// - **split** — the device's next refusal on the same record writes a strict subset of its dots:
///   the client sends a refused joined entry again one edit at a time, and the edit refused alone
///   is the one pending;
/// - **replica moved**, **discarded** or **dismissed** (``RefusalResolution``).
///
/// Refusing the same edit again (same record, code and dots) counts it, and at most
/// ``maxPendingPerDevice`` refusals per device are kept: a device pushing garbage fills its own
/// list, never the store (what does not fit is logged and counted, not kept).
enum RefusalLog {
    static let maxPendingPerDevice = 100
    static let maxDots = 64
    static let maxMessageCharacters = 300

    struct Key: Hashable {
        let record: String
        let code: String
        let dots: String
    }

    /// A pending refusal as the merge reads it back.
    struct Open {
        let id: Int64
        let record: String
        let code: String
        let dotsText: String
        var key: Key { Key(record: record, code: code, dots: dotsText) }
        /// Nil when a stored dot no longer parses (it then never counts as delivered).
        var dots: Set<Dot>? { RefusalLog.parseDots(dotsText) }
    }

    /// What one push does to the device's pending refusals.
    struct Plan: Equatable {
        /// New refusals, each with how many times this push refused it.
        var inserts: [(draft: RefusalDraft, times: Int)] = []
        /// Pending refusals refused again: id → times, with the newest message.
        var repeats: [Int64: (times: Int, message: String)] = [:]
        /// Pending refusals this push resolved, with why.
        var resolved: [Int64: String] = [:]
        /// Refusals not kept: the device already has ``maxPendingPerDevice`` pending.
        var unrecorded = 0

        var isEmpty: Bool { inserts.isEmpty && repeats.isEmpty && resolved.isEmpty }

        static func == (lhs: Plan, rhs: Plan) -> Bool {
            lhs.inserts.map(\.draft) == rhs.inserts.map(\.draft) && lhs.inserts.map(\.times) == rhs.inserts.map(\.times)
                && lhs.repeats.mapValues(\.times) == rhs.repeats.mapValues(\.times) && lhs.resolved == rhs.resolved && lhs.unrecorded == rhs.unrecorded
        }
    }

    /// - Parameters:
    ///   - open: the device's pending refusals before this push.
    ///   - refused: this push's refusals, in push order (those refused before the store included).
    ///   - accepted: this push's deltas the merge accepted.
    ///   - states: the stored state, after this push, of (at least) every record in `accepted`.
    ///   - own: the replica ids bound to the device, this push's bindings included.
    static func plan(open: [Open], refused: [RefusalDraft], accepted: [RecordState], states: [RecordID: RecordState], own: Set<ReplicaID>) -> Plan {
        var plan = Plan()
        let acceptedRecords = Set(accepted.map(\.id.rawValue))
        for row in open where acceptedRecords.contains(row.record) {
            guard let dots = row.dots, !dots.isEmpty, dots.allSatisfy({ own.contains($0.replica) }),
                let id = try? RecordID(row.record), let state = states[id], dots.allSatisfy({ state.context.contains($0) })
            else { continue }
            plan.resolved[row.id] = "delivered"
        }
        var pending = Dictionary(open.filter { plan.resolved[$0.id] == nil }.map { ($0.key, $0.id) }, uniquingKeysWith: { first, _ in first })
        var inserted: [Key: Int] = [:]
        for draft in refused {
            let key = draft.key
            let subset = Set(draft.dots)
            if let record = draft.record, !subset.isEmpty {
                for row in open where row.record == record && plan.resolved[row.id] == nil && row.key != key {
                    if let dots = row.dots, dots.count > subset.count, subset.isSubset(of: dots) {
                        plan.resolved[row.id] = "split"
                        pending[row.key] = nil
                    }
                }
            }
            if let id = pending[key] {
                plan.repeats[id, default: (0, draft.message)].times += 1
                plan.repeats[id]?.message = draft.message
            } else if let index = inserted[key] {
                plan.inserts[index].times += 1
            } else if pending.count + plan.inserts.count < maxPendingPerDevice {
                inserted[key] = plan.inserts.count
                plan.inserts.append((draft, 1))
            } else {
                plan.unrecorded += 1
            }
        }
        return plan
    }

    /// ``plan(open:refused:accepted:states:own:)`` for one push as a store merged it: `deltas`
    /// with the merge's `result`, after `earlier` (the push's deltas refused before the store).
    static func plan(
        open: [Open], deltas: [RecordState], result: MergeBatch.Result, earlier: [RefusalDraft], existing: [RecordID: RecordState],
        owners: [ReplicaID: String], device: String
    ) -> Plan {
        var refused = earlier
        var accepted: [RecordState] = []
        for (delta, outcome) in zip(deltas, result.outcomes) {
            switch outcome {
            case .merged: accepted.append(delta)
            case .refused(let error): refused.append(RefusalDraft(delta: delta, code: error.code, message: error.message))
            }
        }
        var states = existing
        for state in result.changed { states[state.id] = state }
        let own = Set(owners.compactMap { $0.value == device ? $0.key : nil }).union(result.bindings)
        return plan(open: open, refused: refused, accepted: accepted, states: states, own: own)
    }

    static let logger = Logger(label: "butler.server.refusals")

    /// Logs and counts what a committed push did to `device`'s pending refusals.
    static func report(_ plan: Plan, device: String) {
        if plan.unrecorded > 0 {
            Counter(label: "butler_server_refusals_unrecorded_total").increment(by: plan.unrecorded)
            logger.notice(
                "device has too many pending refusals: more were not kept",
                metadata: ["device.name": "\(device)", "refusals.unrecorded": "\(plan.unrecorded)", "refusals.max": "\(maxPendingPerDevice)"])
        }
        if !plan.resolved.isEmpty {
            logger.info("pending refusals resolved by a push", metadata: ["device.name": "\(device)", "refusals.resolved": "\(plan.resolved.count)"])
        }
    }

    /// Whether resolution `resolution` ends pending refusal `row` (``RefusalResolution/dismissed(id:)`` is matched by id in the store).
    static func ends(_ row: Open, _ resolution: RefusalResolution) -> Bool {
        switch resolution {
        case .replicaMoved:
            return row.code == ErrorCode.dotReused.rawValue || row.code == ErrorCode.foreignDot.rawValue
        case .discarded(let record, let discarded):
            guard row.record == record.rawValue, let dots = row.dots else { return false }
            return dots.isSubset(of: discarded)
        case .dismissed(let id):
            return row.id == id
        }
    }

    static func dotsText(_ dots: [Dot]) -> String { dots.map(\.description).joined(separator: ",") }

    static func parseDots(_ text: String) -> Set<Dot>? {
        var dots = Set<Dot>()
        for part in text.split(separator: ",") {
            guard let dot = Dot(parsing: String(part)) else { return nil }
            dots.insert(dot)
        }
        return dots
    }
}
