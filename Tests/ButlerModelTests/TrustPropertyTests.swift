import ButlerModel
import Foundation
import PropertyBased
import Synchronization
import Testing

/// Random honest histories with forged deltas interleaved, admitted the way the server admits
/// them (``DeltaAdmission`` against the stored state): every honest delta is accepted, every
/// forged one is refused with the code of the claim it breaks, and the stored state ends equal to
/// the join of the honest deltas alone — no honest value lost, honest replicas convergent with it.
@Suite("Trust properties")
struct TrustPropertyTests {
    /// The kinds of forgery a rogue, buggy or cloned device sends.
    enum Forgery: CaseIterable {
        case foreignDot, unknownDots, counterJump, dotReused, protectedRemoval, oversized

        var code: ModelError.Code {
            switch self {
            case .foreignDot: .foreignDot
            case .unknownDots: .unknownDots
            case .counterJump: .counterJump
            case .dotReused: .dotReused
            case .protectedRemoval: .roleForbidden
            case .oversized: .recordTooLarge
            }
        }
    }

    static let rogue = try! ReplicaID("x-rogue")
    static let rogueDevice = Pusher(name: "rogue", role: .butler, replicas: [rogue])

    /// A forged delta of `kind` against `stored`, or nil when this record offers no target for it.
    static func forge(_ kind: Forgery, _ stored: RecordState, honest: [ReplicaID], _ rng: inout SplitMix64) -> (RecordState, Pusher)? {
        func delta(_ context: CausalContext, _ fields: [FieldPath: [Dot: FieldEntry]] = [:]) -> RecordState {
            try! RecordState(id: stored.id, type: stored.type, zone: stored.zone, context: context, fields: fields)
        }
        let entry = FieldEntry(value: "forged", time: HLCTimestamp(millis: 1_795_000_000_000), author: "rogue")
        let path: FieldPath = stored.type == .inspectionForm ? "weather" : (stored.type == .photo ? "caption" : "place")
        switch kind {
        case .foreignDot:
            // Impersonate an honest replica with a dot it has not used yet.
            let victim = rng.pick(honest)
            let dot = try! Dot(victim, stored.context.maxCounter(of: victim) + 1)
            return (delta(CausalContext(cloud: [dot]), [path: [dot: entry]]), rogueDevice)
        case .unknownDots:
            // Claim to have seen an honest replica's next dots (pre-emption), or a whole vector beyond them.
            let victim = rng.pick(honest)
            let top = stored.context.maxCounter(of: victim)
            let context = rng.chance(0.5)
                ? CausalContext(cloud: Set((1...3).map { try! Dot(victim, top + UInt64($0)) }))
                : CausalContext(vector: VersionVector([victim: top + UInt64(Int.random(in: 1...50, using: &rng))]))
            return (delta(context), rogueDevice)
        case .counterJump:
            let dot = try! Dot(rogue, DeltaAdmission.maxCounterJump + UInt64(Int.random(in: 1...1_000_000, using: &rng)))
            return (delta(CausalContext(cloud: [dot]), [path: [dot: entry]]), rogueDevice)
        case .dotReused:
            // A cloned or restored device writes a held dot of its replica again, with other content.
            let held = stored.fields.flatMap { p, register in register.map { (p, $0.key) } }.sorted { $0.1 < $1.1 }
            guard !held.isEmpty else { return nil }
            let (heldPath, dot) = rng.pick(held)
            let clone = Pusher(name: "clone", role: .supervisor, replicas: [dot.replica])
            let other = FieldEntry(value: .string("cloned \(dot)"), time: HLCTimestamp(millis: 1), author: "clone")
            return (delta(CausalContext(cloud: [dot]), [rng.chance(0.5) ? heldPath : path: [dot: other]]), clone)
        case .protectedRemoval:
            // Supersede, with no value, what a butler may not remove.
            var dots = Set<Dot>()
            // A status is protected when it is the resolved one and reviewed or closed.
            let resolved = stored.type == .inspectionForm ? (try? InspectionForm.status(of: stored)) : nil
            for (p, register) in stored.fields {
                let s = p.segments
                for (dot, value) in register {
                    let isProtected =
                        (stored.type == .inspectionForm && (s.first == "review" || (p.rawValue == "status" && (resolved?.state ?? .draft) >= .reviewed && (try? FormStatus(json: value.value)) == resolved)
                            || (s.count == 4 && s[2] == "photos") || (s.count == 5 && s[0] == "notices" && s[2] == "photos")))
                        || (stored.type == .photo && s.first == "attachments") || (stored.type == .callback && s.first == "attempts")
                        || (stored.type == .complaint && (s.first == "fixes" || s.first == "callbacks" || s.first == "approval"))
                    if isProtected { dots.insert(dot) }
                }
            }
            guard !dots.isEmpty else { return nil }
            return (delta(CausalContext(cloud: Set(dots.shuffled(using: &rng).prefix(Int.random(in: 1...dots.count, using: &rng))))), rogueDevice)
        case .oversized:
            // Own dots, spaced so none compacts: the merged context would exceed the limit. (One
            // more than a decoder accepts in a single delta: admission holds the bound by itself.)
            let dots = (1...(RecordLimits.maxCloudDots + 1)).map { try! Dot(rogue, UInt64($0 * 2)) }
            return (delta(CausalContext(cloud: Set(dots))), rogueDevice)
        }
    }

    @Test("honest deltas are all accepted, forged ones all refused, and the store equals the honest join", .shrinking(false))
    func forgedDeltasNeverCostAnHonestValue() async {
        let honestCount = Atomic<Int>(0)
        let forgedCount = Atomic<Int>(0)
        await propertyCheck(count: 120, input: Gen.int64(in: 0 ... .max)) { raw in
            let seed = UInt64(raw)
            var rng = SplitMix64(seed: seed ^ 0x7257)
            let replicaCount = Int.random(in: 2...5, using: &rng)
            var (sims, log) = PropertyTests.history(seed: seed, replicas: replicaCount, steps: Int.random(in: 30...90, using: &rng))
            let honest = sims.map(\.author.replica)
            var server: [RecordID: RecordState] = [:]
            var honestJoin: [RecordID: RecordState] = [:]
            // The server receives the honest log in creation order (a device only ever saw what the
            // server already held), some deltas twice, with forgeries interleaved.
            for delta in log {
                // A delta that only removes names no author of its own: any honest device may send it.
                let author = delta.fields.values.first?.keys.first?.replica ?? honest[0]
                // A manager may do everything the model's edits do (a complaint's approval included).
                let pusher = Pusher(name: author.rawValue, role: .manager, replicas: [author])
                for _ in 0..<(rng.chance(0.1) ? 2 : 1) {
                    do {
                        server[delta.id] = try DeltaAdmission.admit(delta, into: server[delta.id], by: pusher)
                        honestCount.add(1, ordering: .relaxed)
                    } catch {
                        Issue.record("honest delta refused: \(error), seed=\(seed)")
                    }
                }
                honestJoin[delta.id] = try! (honestJoin[delta.id] ?? RecordState(id: delta.id, type: delta.type, zone: delta.zone)).merged(with: delta)
                guard rng.chance(0.5), let target = server.values.sorted(by: { $0.id < $1.id }).randomElement(using: &rng) else { continue }
                let kind = rng.pick(Forgery.allCases)
                guard let (forged, by) = Self.forge(kind, target, honest: honest, &rng) else { continue }
                forgedCount.add(1, ordering: .relaxed)
                do {
                    _ = try DeltaAdmission.admit(forged, into: target, by: by)
                    Issue.record("forged \(kind) accepted, seed=\(seed)")
                } catch let error as ModelError {
                    #expect(error.code == kind.code, "\(kind) refused as \(error.code): \(error.message), seed=\(seed)")
                } catch {
                    Issue.record("unexpected \(error), seed=\(seed)")
                }
            }
            for (id, state) in honestJoin {
                #expect(server[id]?.contentHash == state.contentHash, "store equals the honest join for \(id), seed=\(seed)")
            }
            // Honest replicas pull the store and converge on it.
            for r in sims.indices {
                for state in server.values { try! sims[r].receive(state) }
                for (id, state) in server { #expect(sims[r].records[id]?.contentHash == state.contentHash, "replica \(r) holds \(id), seed=\(seed)") }
            }
        }
        print("FAULT-REPORT forged-deltas refused=\(forgedCount.load(ordering: .relaxed)) honest-accepted=\(honestCount.load(ordering: .relaxed))")
    }

    @Test("the generated forgeries cover every kind")
    func coverage() {
        var kinds = Set<Forgery>()
        for seed in UInt64(0)..<40 {
            var rng = SplitMix64(seed: seed)
            let (sims, log) = PropertyTests.history(seed: seed, replicas: 3, steps: 80)
            var server: [RecordID: RecordState] = [:]
            for delta in log { server[delta.id] = try! (server[delta.id] ?? RecordState(id: delta.id, type: delta.type, zone: delta.zone)).merged(with: delta) }
            for state in server.values {
                for kind in Forgery.allCases where Self.forge(kind, state, honest: sims.map(\.author.replica), &rng) != nil { kinds.insert(kind) }
            }
        }
        #expect(kinds == Set(Forgery.allCases))
    }
}
