import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation

/// A rogue handheld in the estate (SYNC.md §8.1: "authenticated but not trusted"): a registered
/// butler device that now and then pushes a forged delta, built from a real form the server holds.
/// Each forgery breaks one rule the server verifies; the server must refuse it with that rule's
/// code and leave the stored record byte-identical. What it accepts, or answers with anything but
/// a per-delta refusal, is a violation. The rogue is not one of the honest replicas the final
/// check compares, but what the server accepted from it is in the acknowledged log like any edit.
struct Rogue {
    static let name = "rogue"
    let token: String
    let zone: Zone
    let replica: ReplicaID

    enum Forgery: String, CaseIterable {
        /// A context covering every value and no field: erases the form (`role-forbidden`).
        case erase
        /// A value under another device's replica id (`foreign-dot`).
        case foreignDot = "foreign-dot"
        /// A context claiming a colleague's dot the record has never held (`unknown-dots`).
        case unknownDots = "unknown-dots"
        /// A counter 2²¹ beyond what the record holds for the rogue's own replica (`counter-jump`).
        case counterJump = "counter-jump"
        /// A write over a colleague's note (`role-forbidden`).
        case overwriteNote = "overwrite-note"
        /// Its own earlier note's dot again, with other text (`dot-reused`).
        case reuseDot = "reuse-dot"

        var expected: ErrorCode {
            switch self {
            case .erase, .overwriteNote: .roleForbidden
            case .foreignDot: .foreignDot
            case .unknownDots: .unknownDots
            case .counterJump: .counterJump
            case .reuseDot: .dotReused
            }
        }
    }

    /// Tries one forgery against one of the zone's forms; returns the violations it caused and
    /// the code the server refused it with (`nil` when no form offered a target).
    func attack(
        _ forgery: Forgery, node: InProcessServer, decisions: DecisionSource, observations: Observations, now: Date
    ) async throws -> (violations: [String], refused: ErrorCode?) {
        let transport = node.transport(token: token)
        // A form of its zone the server acknowledged, read as the server holds it now.
        let forms = observations.formsByZone.withLock { $0[zone] ?? [] }
        guard !forms.isEmpty else { return ([], nil) }
        let picked = decisions.draw { $0.pick(forms) }
        guard let bytes = try await node.storage.encodedRecord(id: picked) else { return ([], nil) }
        let target = try JSONParser.parseRecordState(bytes)
        let stamp = EditStamp(author: try Author(replica: replica, name: "流氓设备"), time: HLCTimestamp(millis: Int64(now.timeIntervalSince1970 * 1000)))
        let others = Set(target.fields.values.flatMap(\.keys).map(\.replica)).subtracting([replica]).sorted { $0.rawValue < $1.rawValue }
        guard let colleague = others.first else { return ([], nil) }

        func note(_ dot: Dot, _ text: String, context: CausalContext) throws -> RecordState {
            try RecordState(
                id: target.id, type: target.type, zone: target.zone, context: context,
                fields: [try FieldPath("notes", dot.description): [dot: FieldEntry(value: ["text": .string(text), "at": .string(Timestamp.format(now))], time: stamp.time, author: stamp.author.name)]])
        }
        func context(_ dots: [Dot]) -> CausalContext {
            var context = CausalContext()
            for dot in dots { context.insert(dot) }
            return context
        }
        let own = try Dot(replica, target.context.maxCounter(of: replica) + 1)
        let delta: RecordState
        switch forgery {
        case .erase:
            delta = try RecordState(id: target.id, type: target.type, zone: target.zone, context: target.context, fields: [:])
        case .foreignDot:
            let dot = try Dot(colleague, target.context.maxCounter(of: colleague) + 1)
            delta = try note(dot, "冒名", context: context([dot]))
        case .unknownDots:
            delta = try note(own, "虚构", context: context([own, try Dot(colleague, target.context.maxCounter(of: colleague) + 5)]))
        case .counterJump:
            let far = try Dot(replica, target.context.maxCounter(of: replica) + (1 << 21))
            delta = try note(far, "跳号", context: context([far]))
        case .overwriteNote:
            guard let (path, theirs) = target.fields.first(where: { $0.key.segments.first == "notes" && $0.value.keys.contains { $0.replica != replica } }) else {
                return ([], nil)
            }
            delta = try RecordState(
                id: target.id, type: target.type, zone: target.zone, context: context(Array(theirs.keys) + [own]),
                fields: [path: [own: FieldEntry(value: ["text": "改写", "at": .string(Timestamp.format(now))], time: stamp.time, author: stamp.author.name)]])
        case .reuseDot:
            // First an honest note, which the server accepts; then the same dot with other text.
            let honest = try note(own, "巡查", context: context([own]))
            let first = try await transport.push(PushRequest(deltas: [honest]))
            guard first.results.first?.status == .accepted else {
                return (["rogue: an honest note on \(target.id) was refused: \(first.results.first?.code?.rawValue ?? "?")"], nil)
            }
            observations.accept([honest])
            delta = try note(own, "篡改", context: context([own]))
        }
        let before = try await node.storage.encodedRecord(id: target.id)
        let response: PushResponse
        do {
            response = try await transport.push(PushRequest(deltas: [delta]))
        } catch {
            return (["rogue \(forgery.rawValue) on \(target.id): the push failed as a request (\(error)), not as a refused delta"], nil)
        }
        guard let result = response.results.first else { return (["rogue \(forgery.rawValue) on \(target.id): no result"], nil) }
        if result.status == .accepted {
            observations.accept([delta])
            return (["rogue \(forgery.rawValue) on \(target.id): the server accepted a forged delta"], nil)
        }
        var found: [String] = []
        if result.code != forgery.expected {
            found.append("rogue \(forgery.rawValue) on \(target.id): refused with \(result.code?.rawValue ?? "?"), the rules say \(forgery.expected.rawValue)")
        }
        if try await node.storage.encodedRecord(id: target.id) != before {
            found.append("rogue \(forgery.rawValue) on \(target.id): refused, yet the stored record changed")
        }
        return (found, result.code)
    }
}
