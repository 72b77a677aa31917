import ArgumentParser
import ButlerModel
import ButlerSimulation
import Foundation

/// `butler-sim`: the deterministic simulation of the whole sync system (see docs/testing.md).
@main
struct ButlerSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "butler-sim",
        abstract: "Run the deterministic simulation of ButlerSync: devices, server nodes and faults in one process, from one seed.",
        discussion: """
            Real client stores on disk, real sync engines and the real server router and storage, connected \
            in memory; every clock, random choice and id comes from the seed, and time is simulated (nothing \
            sleeps). Faults: messages dropped, duplicated, replies lost after the server committed, photo \
            bodies cut mid-transfer, server nodes dying mid-request (before or after the commit, mid-upload) \
            and restarting, partitions, device crashes (restart from the SQLite file only), devices restored \
            from old backups, cloned devices, clocks skewed and jumping by days, and a rogue device pushing \
            forged deltas. After healing and a final sync it checks what was acknowledged against an \
            independent reference of the rules.

            A failing run is shrunk (fewer hours, devices, nodes, faults: still the same seed) and prints \
            `replay: COMMAND` for the smallest failing run found. The last line is always \
            `simulated H device-hours, F faults, V violations, digest HEX` for the run asked for; the exit \
            status is 1 when there is any violation. The same seed and options give the same digest.

            Fault names for --fault: \(SimulationOptions.faultNames.joined(separator: ", ")).

            Examples:
              swift run -c release butler-sim --seed 42
              swift run -c release butler-sim --seed 7 --hours 8760 --devices 12 --nodes 2
              swift run -c release butler-sim --seed 3 --fault rogue-delta=0 --fault body-cut=0.2
              BUTLER_SIM_DATABASE_URL=postgres://butler@127.0.0.1:5432/butler swift run -c release butler-sim --hours 168
            """)

    @Option(help: "The seed (env BUTLER_SIM_SEED).") var seed: UInt64?
    @Option(help: "Simulated hours every device lives through (env BUTLER_SIM_HOURS; default 720).") var hours: Double?
    @Option(help: "Devices: butlers, and a supervisor in every four (2…64; default 6).") var devices: Int = 6
    @Option(help: "Server nodes on one store (1…3; default 1).") var nodes: Int = 1
    @Option(name: .customLong("fault"), help: "NAME=P: a fault's probability (repeatable; names below).") var faults: [String] = []
    @Option(help: "The server store on PostgreSQL (env BUTLER_SIM_DATABASE_URL); default the embedded SQLite store.") var databaseURL: String?
    @Option(help: "At most this many runs to shrink a failing run (0: do not shrink).") var shrinkBudget = 24
    @Flag(help: "Print the run's counts as JSON before the last line.") var json = false

    func run() async throws {
        var options = SimulationOptions()
        let env = ProcessInfo.processInfo.environment
        options.seed = try seed ?? env["BUTLER_SIM_SEED"].map { text in
            guard let value = UInt64(text) else { throw ValidationError("BUTLER_SIM_SEED must be an unsigned integer") }
            return value
        } ?? 1
        options.hours = try hours ?? env["BUTLER_SIM_HOURS"].map { text in
            guard let value = Double(text), value > 0 else { throw ValidationError("BUTLER_SIM_HOURS must be a positive number") }
            return value
        } ?? 720
        options.devices = devices
        options.nodes = nodes
        for fault in faults {
            let parts = fault.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let value = Double(parts[1]), (0...1).contains(value), options.setRate(parts[0], value) else {
                throw ValidationError("--fault takes NAME=P with P in 0…1 and NAME one of \(SimulationOptions.faultNames.joined(separator: ", ")); got \(fault)")
            }
        }
        options.databaseURL = databaseURL ?? env["BUTLER_SIM_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        let started = ContinuousClock.now
        let result = try await Simulation.run(options)
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        for violation in result.violations { print("violation: \(violation)") }
        if !result.violations.isEmpty {
            let smallest = try await Simulation.shrink(result, budget: shrinkBudget) { FileHandle.standardError.write(Data("\($0)\n".utf8)) }
            if smallest.options.hours < options.hours || smallest.replayCommand != result.replayCommand {
                print("shrunk to \(smallest.violations.count) violation(s) in \(Int(smallest.deviceHours.rounded())) device-hours; first: \(smallest.violations[0])")
            }
            print("replay: \(smallest.replayCommand)")
        }
        let faults = result.faults.keys.sorted().map { "\($0.rawValue) \(result.faults[$0]!)" }.joined(separator: ", ")
        print("seed \(options.seed): \(result.edits) edits, \(result.syncs) syncs, \(result.records) records; faults: \(faults.isEmpty ? "none" : faults)")
        if !result.rogueRefused.isEmpty {
            print("rogue forgeries refused: " + result.rogueRefused.keys.sorted().map { "\($0) \(result.rogueRefused[$0]!)" }.joined(separator: ", "))
        }
        print(String(format: "rate %.0f simulated device-hours per second (%.1f s)", result.deviceHours / max(seconds, 0.001), seconds))
        if json {
            let counts: JSONValue = [
                "seed": .int(Int64(bitPattern: options.seed)), "deviceHours": .int(Int64(result.deviceHours.rounded())),
                "edits": .int(Int64(result.edits)), "syncs": .int(Int64(result.syncs)), "records": .int(Int64(result.records)),
                "faults": .object(Dictionary(uniqueKeysWithValues: result.faults.map { ($0.key.rawValue, JSONValue.int(Int64($0.value))) })),
                "refusedAtOnce": .object(result.refusedAtOnce.mapValues { .int(Int64($0)) }),
                "rogueRefused": .object(result.rogueRefused.mapValues { .int(Int64($0)) }),
                "violations": .array(result.violations.map { .string($0) }), "digest": .string(result.digest),
                "seconds": .int(Int64(seconds.rounded())),
            ]
            print(counts.canonicalString)
        }
        print(result.summary)
        if !result.violations.isEmpty { throw ExitCode(1) }
    }
}
