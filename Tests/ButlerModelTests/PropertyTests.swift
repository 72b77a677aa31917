import ButlerModel
import Foundation
import PropertyBased
import Testing

/// The merge laws and convergence, on generated edits of every record type (DESIGN "Causality and merge").
///
/// Every case is driven by one 64-bit seed; a failure prints it (`seed=…`), and PropertyBased prints
/// its own fixed seed too, so the schedule replays exactly.
@Suite("Merge properties")
struct PropertyTests {
    /// Runs a random multi-replica history and returns every replica's records.
    static func history(seed: UInt64, replicas: Int, steps: Int) -> (replicas: [SimReplica], deltas: [RecordState]) {
        var rng = SplitMix64(seed: seed)
        let start: Int64 = 1_795_000_000_000
        var sims = (0..<replicas).map { i in
            // Device clocks disagree by up to a day.
            SimReplica(Fixtures.author("r\(i)", "管家\(i)"), wall: start + Int64.random(in: -86_400_000...86_400_000, using: &rng))
        }
        var log: [RecordState] = []
        var counter = 0
        for _ in 0..<steps {
            let r = Int.random(in: 0..<replicas, using: &rng)
            if rng.chance(0.65) || log.isEmpty {
                if let delta = RandomEdits.edit(&sims[r], &rng, counter: &counter) { log.append(delta) }
            } else {
                // A partial, reordered, possibly duplicated delivery of deltas to one replica.
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    try! sims[r].receive(rng.pick(log))
                }
            }
        }
        return (sims, log)
    }

    @Test("join is commutative, associative and idempotent on generated states", .shrinking(false))
    func joinLaws() async {
        await propertyCheck(count: 200, input: Gen.int64(in: 0 ... .max)) { raw in
            let seed = UInt64(raw)
            let (sims, _) = Self.history(seed: seed, replicas: 3, steps: 60)
            let ids = Set(sims.flatMap { $0.records.keys })
            for id in ids {
                let states = sims.compactMap { $0.records[id] }
                guard states.count == 3 else { continue }
                let (a, b, c) = (states[0], states[1], states[2])
                let ab = try! a.merged(with: b)
                let ba = try! b.merged(with: a)
                #expect(ab.canonicalJSON == ba.canonicalJSON, "commutativity, seed=\(seed) record=\(id)")
                let abc1 = try! ab.merged(with: c)
                let abc2 = try! a.merged(with: try! b.merged(with: c))
                #expect(abc1.canonicalJSON == abc2.canonicalJSON, "associativity, seed=\(seed) record=\(id)")
                #expect(try! a.merged(with: a) == a, "idempotence, seed=\(seed) record=\(id)")
                #expect(try! abc1.merged(with: b) == abc1, "absorption, seed=\(seed) record=\(id)")
            }
        }
    }

    @Test("3–6 replicas converge after random partial, duplicated and reordered exchanges", .shrinking(false))
    func convergence() async {
        await propertyCheck(count: 500, input: Gen.int64(in: 0 ... .max)) { raw in
            let seed = UInt64(raw)
            var rng = SplitMix64(seed: seed ^ 0xA5A5)
            let replicaCount = Int.random(in: 3...6, using: &rng)
            var (sims, log) = Self.history(seed: seed, replicas: replicaCount, steps: Int.random(in: 20...80, using: &rng))
            // Final anti-entropy: every replica receives every delta, in its own random order, some twice;
            // half the time a replica instead receives another replica's full states.
            for r in sims.indices {
                var order = log.shuffled(using: &rng)
                order += (0..<Int.random(in: 0...5, using: &rng)).compactMap { _ in log.isEmpty ? nil : rng.pick(log) }
                for delta in order { try! sims[r].receive(delta) }
                if rng.chance(0.5) {
                    let other = sims[Int.random(in: 0..<sims.count, using: &rng)]
                    for state in other.records.values { try! sims[r].receive(state) }
                }
            }
            let reference = sims[0].records
            for sim in sims.dropFirst() {
                #expect(Set(sim.records.keys) == Set(reference.keys), "same records, seed=\(seed)")
                for (id, state) in reference {
                    guard let other = sim.records[id] else { continue }
                    #expect(other.canonicalJSON == state.canonicalJSON, "byte-identical \(id), seed=\(seed)")
                }
            }
            // The resolved views agree too (they are functions of the state, so this guards determinism).
            for (id, state) in reference where state.type == .inspectionForm || state.type == .resident {
                let views = sims.compactMap { $0.records[id] }.map { try! $0.resolvedView().canonicalString }
                #expect(Set(views).count == 1, "same view of \(id), seed=\(seed)")
            }
        }
    }

    @Test("deltas delivered out of order are never mistaken for seen", .shrinking(false))
    func outOfOrderDelivery() async {
        await propertyCheck(count: 200, input: Gen.int64(in: 0 ... .max)) { raw in
            let seed = UInt64(raw)
            var rng = SplitMix64(seed: seed)
            let author = Fixtures.author("A")
            var source = Fixtures.newForm(by: author)
            var deltas = [source]
            for n in 0..<Int.random(in: 2...12, using: &rng) {
                let item = rng.pick(RandomEdits.items)
                let stamp = Fixtures.stamp(author, 2_000 + Int64(n))
                if rng.chance(0.5) {
                    deltas.append(try! InspectionForm.setResult(&source, item: item, result: rng.pick(ChecklistResult.allCases), at: Fixtures.at(Double(n)), stamp: stamp))
                } else {
                    deltas.append(try! InspectionForm.addNote(&source, item: item, text: "n\(n)", at: Fixtures.at(Double(n)), stamp: stamp))
                }
            }
            var target = RecordState(id: source.id, type: source.type, zone: source.zone)
            for delta in deltas.shuffled(using: &rng) { try! target.merge(delta) }
            #expect(target == source, "seed=\(seed)")
            #expect(target.context.cloud.isEmpty, "context compacts once every gap is filled, seed=\(seed)")
        }
    }
}

@Suite("Generator coverage")
struct GeneratorCoverageTests {
    /// Guards the property tests against passing vacuously: the generated histories must hold every
    /// record type, concurrent siblings, late edits and removals.
    @Test("generated histories exercise every record type and every kind of concurrency")
    func coverage() {
        var types = Set<RecordType>()
        var rules = Set<ResolutionRule>()
        var removals = 0
        for seed in UInt64(0)..<60 {
            let (sims, log) = PropertyTests.history(seed: seed, replicas: 4, steps: 80)
            types.formUnion(log.map(\.type))
            removals += log.filter { $0.fields.isEmpty && !$0.context.isEmpty }.count
            for sim in sims {
                for state in sim.records.values {
                    for r in Resolver.resolveAll(state) where r.isConflict { rules.insert(r.rule) }
                    if state.type == .inspectionForm, let form = try? InspectionForm(state) {
                        rules.formUnion(form.conflicts.map(\.rule))
                    }
                }
            }
        }
        #expect(types == Set(RecordType.allCases))
        #expect(rules.isSuperset(of: [.defectWins, .lastWriterWins, .lateEdit, .statusMonotone]), "rules seen: \(rules)")
        #expect(removals > 0)
    }
}
