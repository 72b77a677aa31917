import ArgumentParser
import ButlerModel
import ButlerTestSupport
import Foundation

@main
struct ButlerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "butler-bench",
        abstract: "Measure ButlerSync's hot paths against this machine's ceilings and write BENCHMARKS.md.",
        discussion: """
            Every figure is reported beside a ceiling measured in the same run (raw SQLite at the same \
            durability, loopback HTTP, curl), because absolute numbers drift on shared machines. All traffic \
            stays on 127.0.0.1; every loop is bounded in count and time.

            Examples:
              swift build -c release && .build/release/butler-bench --output BENCHMARKS.md
              .build/release/butler-bench --database-url postgres://postgres@127.0.0.1:55432/butler_test
              .build/debug/butler-bench --smoke        # a quick check that every scenario runs
            """)

    @Flag(help: "Tiny sizes: checks that every scenario runs (CI).") var smoke = false
    @Option(help: "Write the report here (markdown).") var output: String?
    @Option(help: ArgumentHelp("Also measure the merge on PostgreSQL (env BUTLER_BENCH_DATABASE_URL).", valueName: "postgres://…"))
    var databaseURL: String?
    @Flag(help: "Skip the pycrdt and automerge comparisons (need python3 with pycrdt and automerge==1.0.0rc1).") var noPython = false
    @Option(help: ArgumentHelp("Run only these scenarios (e.g. 1,3); 2 and 3 run together.", valueName: "n[,n]")) var only: String?

    func run() async throws {
        let sizes = smoke ? Sizes.smoke : Sizes()
        let scratch = Scratch("bench")
        defer { withExtendedLifetime(scratch) {} }
        let dir = scratch.url
        let pg = databaseURL ?? ProcessInfo.processInfo.environment["BUTLER_BENCH_DATABASE_URL"]
        var rows: [Row] = []
        func note(_ text: String) { FileHandle.standardError.write(Data("butler-bench: \(text)\n".utf8)) }
        let selected = Set((only ?? "1,2,3,4,5,6,7,8,9,10").split(separator: ",").compactMap { Int($0) })
        if selected.contains(1) { note("1/10 durable edits"); rows.append(try await durableEdits(dir, sizes)) }
        if !selected.isDisjoint(with: [2, 3]) {
            note("2-3/10 server merge and pull catch-up"); rows += try await mergeAndPull(dir, sizes, databaseURL: nil)
            if let pg { note("2/10 server merge on PostgreSQL"); rows += try await mergeAndPull(dir, sizes, databaseURL: pg) }
        }
        if selected.contains(4) { note("4/10 photo upload"); rows += try await photoUpload(dir, sizes) }
        if selected.contains(5) { note("5/10 wire size"); rows.append(try await wireSize(dir, sizes)) }
        if selected.contains(6) { note("6/10 concurrency"); rows.append(try await concurrency(dir, sizes)) }
        if selected.contains(7) { note("7/10 merge kernel"); rows.append(try await mergeKernel(dir, sizes, python: !noPython)) }
        if selected.contains(8) { note("8/10 deterministic simulation"); rows.append(try await simulationRate(dir, sizes)) }
        if selected.contains(9) { note("9/10 live latency"); rows.append(try await liveLatency(dir, sizes)) }
        if selected.contains(10) { note("10/10 live connections"); rows.append(try await liveConnections(dir, sizes)) }

        let report = await render(rows, smoke: smoke, postgres: pg != nil)
        print(report)
        if let output {
            // Keep the hand-written analysis (profiles, before/after) that follows the generated table.
            let previous = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            let analysis = previous.range(of: "\n## Analysis").map { String(previous[$0.lowerBound...]) } ?? ""
            try (report + analysis).write(toFile: output, atomically: true, encoding: .utf8)
        }
        if rows.contains(where: { $0.met == false }) && !smoke { note("some goals were missed: see the table") }
    }

    func render(_ rows: [Row], smoke: Bool, postgres: Bool) async -> String {
        func sh(_ command: String) async -> String {
            (try? await butler_bench.run(URL(fileURLWithPath: "/bin/sh"), ["-c", command]))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
        }
        var text = "# ButlerSync benchmarks\n\n"
        text += "Command: `\(CommandLine.arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " "))`"
        text += smoke ? " (smoke sizes: not a measurement)\n\n" : "\n\n"
        text += "- Date: \(Timestamp.format(Date()))\n"
        let (cores, memory, kernel, swift) = (await sh("nproc"), await sh("free -g | awk '/Mem:/ {print $2}'"), await sh("uname -srm"), await sh("swift --version 2>&1 | head -1"))
        let build = await sh("test -n \"$(echo $0 | grep release)\" && echo release || echo see command")
        let sqlite = await sh("sqlite3 --version 2>/dev/null | cut -d' ' -f1")
        let postgresVersion = postgres ? await sh("psql --version | awk '{print $3}'") : ""
        text += "- Machine: \(cores) cores, \(memory) GiB, \(kernel); \(swift)\n"
        text += "- Build: \(build); SQLite \(sqlite)\(postgres ? "; PostgreSQL \(postgresVersion)" : "")\n\n"
        text += "| scenario | measured | ceiling (same run) | ratio | goal | met |\n|---|---|---|---|---|---|\n"
        for row in rows {
            let met = row.met.map { $0 ? "yes" : "**no**" } ?? "—"
            text += "| \(row.scenario) | \(row.measured) | \(row.ceiling) | \(row.ratio) | \(row.goal) | \(met) |\n"
        }
        text += "\nNotes:\n\n"
        for row in rows where !row.notes.isEmpty { text += "- \(row.scenario.prefix(2).trimmingCharacters(in: .whitespaces)) \(row.notes)\n" }
        return text
    }
}

