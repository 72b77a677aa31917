import ButlerSimulation
import Foundation

/// 8. The deterministic simulation's rate: simulated device-hours per second of this machine, for a
/// run of 8 devices on 2 nodes under the default faults (issue 14's goal: 10⁵ device-hours in about
/// three minutes). Its violations must be zero: a benchmark of a failing run means nothing.
func simulationRate(_ directory: URL, _ sizes: Sizes) async throws -> Row {
    var options = SimulationOptions()
    options.seed = 1
    options.hours = sizes.simulatedHours
    options.devices = 8
    options.nodes = 2
    options.directory = directory
    let started = ContinuousClock.now
    let result = try await Simulation.run(options)
    let elapsed = ContinuousClock.now - started
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let rate = result.deviceHours / max(seconds, 0.001)
    let goal = 100_000.0 / 180
    return Row(
        scenario: "8 deterministic simulation (butler-sim, 8 devices, 2 nodes)",
        measured: String(format: "%.0f simulated device-hours/s (%.0f device-hours in %.1f s)", rate, result.deviceHours, seconds),
        ceiling: String(format: "goal %.0f/s", goal), ratio: String(format: "%.2f×", rate / goal), goal: "10⁵ device-hours in ≈ 3 min, 0 violations",
        met: result.violations.isEmpty && rate >= goal,
        notes: "\(result.summary); \(result.edits) edits, \(result.syncs) syncs. Replay: `\(result.replayCommand)`.")
}
