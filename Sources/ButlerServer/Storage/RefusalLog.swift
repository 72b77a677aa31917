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
    /// The refusal's message, at most ``RefusalLog/maxMessageCharacters``, control characters
    /// replaced (a message may quote what the device sent; PostgreSQL's text takes no NUL).
    public let message: String
    /// What identifies the edit (``RecordState/editDots(limit:)``): the dots it writes, or for a
    /// removal the dots it removes; sorted, at most ``RefusalLog/maxDots``.
    public let dots: [Dot]
    public let removal: Bool

    public init(delta: RecordState?, code: ErrorCode, message: String) {
        record = delta?.id.rawValue
        zone = delta?.zone.rawValue
        self.code = code
        self.message = RefusalLog.printable(message)
        (dots, removal) = delta?.editDots(limit: RefusalLog.maxDots) ?? ([], false)
    }

    /// What identifies the same edit refused again: a held edit re-sent at every sync is one
    /// pending refusal refused many times, whatever code it is refused with this time.
    var key: RefusalLog.Key { RefusalLog.Key(record: record ?? "", dots: RefusalLog.dotsText(dots), removal: removal) }
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
    /// What identifies the edit (`replica:counter`, sorted, at most 64): the dots it writes, or
    /// for a removal (`removal`) the dots it removes.
    public let dots: [String]
    public let removal: Bool
    public let firstAt: Date
    public let lastAt: Date
    /// How many times the server refused it (a held edit is sent again at every sync).
    public let times: Int

    public init(
        id: Int64, device: String, record: String?, zone: String?, code: ErrorCode, message: String, dots: [String], removal: Bool, firstAt: Date,
        lastAt: Date, times: Int
    ) {
        self.id = id
        self.device = device
        self.record = record
        self.zone = zone
        self.code = code
        self.message = message
        self.dots = dots
        self.removal = removal
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
            "code": .string(code.rawValue), "message": .string(message), "dots": .array(dots.map(JSONValue.string)), "removal": .bool(removal),
            "firstAt": .string(Timestamp.format(firstAt)), "lastAt": .string(Timestamp.format(lastAt)), "times": .int(Int64(times)),
            "held": .bool(ErrorCode.held.contains(code)),
        ]
    }
}

/// How a pending refusal ends, apart from the merge itself (see ``RefusalLog``).
public enum RefusalResolution: Hashable, Sendable {
    /// The device moved to a fresh replica id (`POST /v1/devices/me/replicas`): it re-stamps every
    /// queued edit under it, so its `dot-reused`, `foreign-dot` and held refusals end (a held edit
    /// is delivered, or refused again, under other dots).
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
/// - **split** — the client sends a refused joined entry again one edit at a time: the joined
///   refusal ends once each of its dots is kept in a refusal of a strict part of it or delivered;
/// - **replica moved**, **discarded** or **dismissed** (``RefusalResolution``, ``ended(_:by:)``).
///
/// Refusing the same edit again (same record and dots) counts it under its newest code, and at most
/// ``maxPendingPerDevice`` refusals per device are kept: a device pushing garbage fills its own
/// list, never the store (what does not fit is logged and counted, not kept).
enum RefusalLog {
    static let maxPendingPerDevice = 100
    static let maxDots = 64
    static let maxMessageCharacters = 300

    struct Key: Hashable {
        let record: String
        let dots: String
        let removal: Bool
    }

    /// A pending refusal as the merge reads it back, its dots parsed once.
    struct Open {
        let id: Int64
        let record: String
        let code: String
        let dotsText: String
        let removal: Bool
        /// Nil when a stored dot no longer parses (it then never counts as delivered or split).
        let dots: Set<Dot>?

        init(id: Int64, record: String, code: String, dotsText: String, removal: Bool) {
            self.id = id
            self.record = record
            self.code = code
            self.dotsText = dotsText
            self.removal = removal
            dots = RefusalLog.parseDots(dotsText)
        }

        var key: Key { Key(record: record, dots: dotsText, removal: removal) }
    }

    /// What one push does to the device's pending refusals.
    struct Plan {
        /// New refusals, each with how many times this push refused it.
        var inserts: [(draft: RefusalDraft, times: Int)] = []
        /// Pending refusals refused again: id → times, with the newest code and message.
        var repeats: [Int64: (times: Int, code: ErrorCode, message: String)] = [:]
        /// Pending refusals this push resolved, with why.
        var resolved: [Int64: String] = [:]
        /// Refusals not kept: the device already has ``maxPendingPerDevice`` pending.
        var unrecorded = 0

        var isEmpty: Bool { inserts.isEmpty && repeats.isEmpty && resolved.isEmpty }
    }

    /// - Parameters:
    ///   - open: the device's pending refusals before this push.
    ///   - refused: this push's refusals (those refused before the store first).
    ///   - accepted: this push's deltas the merge accepted.
    ///   - states: the stored state, after this push, of (at least) every record this push names.
    ///   - own: the replica ids bound to the device, this push's bindings included.
    static func plan(open: [Open], refused: [RefusalDraft], accepted: [RecordState], states: [RecordID: RecordState], own: Set<ReplicaID>) -> Plan {
        var plan = Plan()
        let acceptedRecords = Set(accepted.map(\.id.rawValue))
        // Delivered: an accepted delta to the record, after which the record holds the edit.
        for row in open where acceptedRecords.contains(row.record) {
            if let state = state(of: row.record, in: states), landed(row.dots, removal: row.removal, in: state, own: own) {
                plan.resolved[row.id] = "delivered"
            }
        }
        var pending = Dictionary(open.filter { plan.resolved[$0.id] == nil }.map { ($0.key, $0.id) }, uniquingKeysWith: { first, _ in first })
        var inserted: [Key: Int] = [:]
        for draft in refused {
            let key = draft.key
            if let id = pending[key] {
                let times = (plan.repeats[id]?.times ?? 0) + 1
                plan.repeats[id] = (times, draft.code, draft.message)
            } else if let index = inserted[key] {
                plan.inserts[index].times += 1
            } else if pending.count + plan.inserts.count < maxPendingPerDevice {
                inserted[key] = plan.inserts.count
                plan.inserts.append((draft, 1))
            } else {
                plan.unrecorded += 1
            }
        }
        // Split: a joined entry's refusal gives way once every edit in it is accounted for — kept
        // as a refusal of its own (a strict part of it) or delivered — so none is hidden, even
        // when the cap left one of them unrecorded (the joined refusal then stays).
        let touched = Set(refused.compactMap(\.record)).union(acceptedRecords)
        var parts: [String: [Set<Dot>]] = [:]
        for row in open where plan.resolved[row.id] == nil && touched.contains(row.record) {
            if let dots = row.dots, !row.removal { parts[row.record, default: []].append(dots) }
        }
        for (draft, _) in plan.inserts where !draft.removal {
            if let record = draft.record { parts[record, default: []].append(Set(draft.dots)) }
        }
        for row in open where plan.resolved[row.id] == nil && touched.contains(row.record) && !row.removal {
            guard let dots = row.dots, dots.count > 1 else { continue }
            let smaller = (parts[row.record] ?? []).filter { !$0.isEmpty && $0.count < dots.count && $0.isSubset(of: dots) }
            guard !smaller.isEmpty else { continue }
            let kept = smaller.reduce(into: Set<Dot>()) { $0.formUnion($1) }
            let state = state(of: row.record, in: states)
            let accounted = dots.allSatisfy { dot in
                kept.contains(dot) || (own.contains(dot.replica) && state?.context.contains(dot) == true)
            }
            if accounted {
                plan.resolved[row.id] = "split"
                plan.repeats[row.id] = nil
            }
        }
        return plan
    }

    static func state(of record: String, in states: [RecordID: RecordState]) -> RecordState? {
        (try? RecordID(record)).flatMap { states[$0] }
    }

    /// Whether an edit of the device is in `state`: every dot it writes held in the record's
    /// context and minted by the device's own replica ids; for a removal, every dot it removes
    /// seen and no longer held by any field.
    static func landed(_ dots: Set<Dot>?, removal: Bool, in state: RecordState, own: Set<ReplicaID>) -> Bool {
        guard let dots, !dots.isEmpty, dots.allSatisfy({ state.context.contains($0) }) else { return false }
        if removal { return !state.fields.values.contains { register in register.keys.contains { dots.contains($0) } } }
        return dots.allSatisfy { own.contains($0.replica) }
    }

    /// `text` as a kept message: control characters replaced, at most ``maxMessageCharacters``.
    static func printable(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars.prefix(maxMessageCharacters) {
            scalars.append(scalar.properties.generalCategory == .control ? "\u{FFFD}" : scalar)
        }
        return String(scalars)
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

    /// Whether the refusals of `device` are kept: a device's, not a console user's (the console
    /// shows its own refusal on the page at once, and no device page lists `console:` names).
    static func keeps(_ device: String) -> Bool { !device.hasPrefix(ConsoleUser.devicePrefix) }

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

    /// Codes a device's own reports never end: what a forger earns. They end by a replica move
    /// (`dot-reused`, `foreign-dot`: a cloned or restored handheld) or a supervisor's dismissal.
    static let forgeryCodes: Set<ErrorCode> = [.foreignDot, .dotReused, .counterJump, .unknownDots]

    /// The pending refusals of one device that `resolutions` end (``RefusalResolution``).
    ///
    /// A replica move ends the `dot-reused` and `foreign-dot` refusals, and the held ones: the
    /// device re-stamps every queued edit under the new id, so a held edit is delivered, or
    /// refused again, under other dots. A discard report ends the refusals of its record whose
    /// dots are all among the dots the report names for that record (never one without dots,
    /// nor a forgery's).
    static func ended(_ rows: [Open], by resolutions: [RefusalResolution]) -> [Open] {
        var moved = false
        var dismissed = Set<Int64>()
        var discarded: [String: Set<Dot>] = [:]
        for resolution in resolutions {
            switch resolution {
            case .replicaMoved: moved = true
            case .dismissed(let id): dismissed.insert(id)
            case .discarded(let record, let dots): discarded[record.rawValue, default: []].formUnion(dots)
            }
        }
        return rows.filter { row in
            if dismissed.contains(row.id) { return true }
            let code = ErrorCode(row.code)
            if moved, code == .dotReused || code == .foreignDot || ErrorCode.held.contains(code) { return true }
            guard let reported = discarded[row.record], !forgeryCodes.contains(code), let dots = row.dots, !dots.isEmpty else { return false }
            return dots.isSubset(of: reported)
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
