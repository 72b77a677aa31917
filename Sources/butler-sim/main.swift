import ArgumentParser
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
            sleeps). Faults: messages dropped, duplicated, replies lost after the server committed, partitions, \
            device crashes (restart from the SQLite file only), clocks skewed and jumping by days. After healing \
            and a final sync it checks what was acknowledged against an independent reference of the rules.

            The last line is always `simulated H device-hours, F faults, V violations, digest HEX`; the exit \
            status is 1 when there is any violation. The same seed and options give the same digest.

            Examples:
              swift run -c release butler-sim --seed 42
              swift run -c release butler-sim --seed 7 --hours 8760 --devices 12 --nodes 2
            """)

    @Option(help: "The seed (env BUTLER_SIM_SEED).") var seed: UInt64?
    @Option(help: "Simulated hours every device lives through (env BUTLER_SIM_HOURS; default 720).") var hours: Double?
    @Option(help: "Devices: butlers, and a supervisor in every four (2…64; default 6).") var devices: Int = 6
    @Option(help: "Server nodes on one store (1…3; default 1).") var nodes: Int = 1
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
        let started = ContinuousClock.now
        let result = try await Simulation.run(options)
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        for violation in result.violations { print("violation: \(violation)") }
        if !result.violations.isEmpty { print("replay: \(result.replayCommand)") }
        let faults = result.faults.keys.sorted().map { "\($0.rawValue) \(result.faults[$0]!)" }.joined(separator: ", ")
        print("seed \(options.seed): \(result.edits) edits, \(result.syncs) syncs, \(result.records) records; faults: \(faults.isEmpty ? "none" : faults)")
        print(String(format: "rate %.0f simulated device-hours per second (%.1f s)", result.deviceHours / max(seconds, 0.001), seconds))
        print(result.summary)
        if !result.violations.isEmpty { throw ExitCode(1) }
    }
}
