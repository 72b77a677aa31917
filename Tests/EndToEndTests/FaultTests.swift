import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Kills and restarts: nothing acknowledged is lost or duplicated. Every loop is bounded in
/// count and time, and all traffic stays on 127.0.0.1.
@Suite("End to end: faults", .serialized)
struct FaultTests {
    /// Issue 4: kill -9 the server during a push storm; after restart clients finish with nothing lost or duplicated.
    @Test("server killed with SIGKILL during a push storm: after restart nothing is lost or duplicated")
    func serverKilledDuringPushStorm() async throws {
        let cluster = try await Cluster.processes("storm")
        let (scratch, server) = (cluster.scratch, cluster.node)
        let zone = try Zone("east-3")
        var devices: [(store: ClientStore, engine: SyncEngine)] = []
        for n in 0..<4 {
            let token = try await server.addDevice("d\(n)", role: .butler, zones: ["east-3"])
            let store = try ClientStore.open(home: scratch.url.appendingPathComponent("d\(n)"))
            try store.initialize(name: "管家\(n)", serverURL: "http://127.0.0.1:1", token: token)
            devices.append((store, SyncEngine(store: store, transport: server.transport(token: token))))
        }
        // Shared records every device writes to.
        let order = try devices[0].store.createWorkOrder(zone: zone, place: "B1", category: .general, description: nil)
        let form = try devices[0].store.createForm(template: "building-patrol", zone: zone, place: "3号楼")
        _ = try await devices[0].engine.sync()
        for d in devices.dropFirst() { _ = try await d.engine.sync() }

        let logged = Tally()
        let stormEnd = ContinuousClock.now + .seconds(20)
        var kills = 0
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (n, device) in devices.enumerated() {
                group.addTask {
                    var step = 0
                    while step < 60, ContinuousClock.now < stormEnd {
                        step += 1
                        try device.store.logCallback(workOrder: order, channel: .phone, reached: false, satisfaction: nil, note: "d\(n)-\(step)")
                        try device.store.addNote(form: form, item: "hygiene", text: "d\(n)-\(step)")
                        logged.increment()
                        do { _ = try await device.engine.sync() } catch let error as ClientError where error.isTransient {
                            try await Task.sleep(for: .milliseconds(20))
                        }
                    }
                }
            }
            // The killer: SIGKILL the server at random moments, restart it on the same port.
            while kills < 5, ContinuousClock.now < stormEnd {
                try await Task.sleep(for: .milliseconds(Int.random(in: 150...600)))
                await server.kill()
                kills += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 50...300)))
                try await server.start()
            }
            try await group.waitForAll()
        }
        #expect(kills >= 3)
        print("FAULT-REPORT server-sigkill injected=\(kills)")
        // Everyone finishes syncing (bounded retries), twice round so all see all.
        for _ in 0..<2 {
            for device in devices {
                var attempt = 0
                while true {
                    do {
                        _ = try await device.engine.sync()
                        break
                    } catch let error as ClientError where error.isTransient && attempt < 20 {
                        attempt += 1
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
            }
        }
        let total = logged.count
        print("FAULT-REPORT server-sigkill acknowledged=\(total)")
        let hashes = try devices.map { try $0.store.allRecords().map(\.contentHash) }
        #expect(Set(hashes.map { $0.joined() }).count == 1, "all replicas converge")
        let callbacks = try #require(try devices[3].store.callbacks(workOrder: order))
        #expect(callbacks.attempts.count == total, "every acknowledged attempt exactly once")
        #expect(Set(callbacks.attempts.compactMap(\.note)).count == total)
        let notes = try devices[2].store.form(form).items["hygiene"]?.notes ?? []
        #expect(notes.count == total && Set(notes.map(\.text)).count == total)
        for device in devices { #expect(try device.store.status().pendingEdits == 0) }
        await server.stop()
    }
}

/// A counter shared by concurrent test tasks.
final class Tally: Sendable {
    private let value = Atomic<Int>(0)
    func increment() { value.add(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}
