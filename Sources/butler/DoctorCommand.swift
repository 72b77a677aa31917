import ArgumentParser
import ButlerClient
import ButlerModel
import Foundation

struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that this handheld holds what the server holds, and what waits or needs a person.",
        discussion: """
            Reports the edits waiting to sync and the age of the oldest, refused edits with their codes, photo \
            uploads not finished, the clock offset to the server, the last sync error, each zone's checksum \
            (ok: the handheld holds exactly what the server held when it last caught up; mismatch: something \
            differs that a sync could not repair; unknown: not compared yet, or edits of this handheld in the \
            zone still wait to be pushed), and whether the server answers and speaks this protocol.
            --repair runs a sync first, which fixes what can be fixed without losing an edit: it pushes held \
            edits whose cause cleared, resumes photo uploads, and re-fetches only the records that differ. \
            Refused edits are never dropped: see `butler refused list`.
            Exits 0 when all is well, 1 when something needs a person, 75 when the server cannot be reached.

            Examples:
              butler doctor
              butler doctor --json
              butler doctor --repair
            """)
    @OptionGroup var home: HomeOptions
    @Flag(help: "Print the findings as JSON on stdout.") var json = false
    @Flag(help: "Sync first: push held edits, resume uploads, repair differing records.") var repair = false

    func run() async throws {
        let configuration = try home.configuration()
        let store = try home.open(configuration)
        let engine = try SyncEngine.forStore(store, maxUploadBytesPerSecond: configuration.maxUploadBytesPerSecond)
        var repaired: JSONValue?
        if repair {
            do {
                let report = try await engine.sync()
                repaired = ["synced": true, "report": report.jsonValue]
            } catch let error as ClientError {
                repaired = ["synced": false, "error": ["code": .string(error.code.rawValue), "message": .string(error.message)]]
            }
        }
        let report = try await ButlerClient.Doctor.examine(engine)
        if json {
            var o = report.jsonValue.objectValue ?? [:]
            if let repaired { o["repair"] = repaired }
            CLI.print(.object(o))
        } else {
            print(Self.text(report, repaired: repaired, calendar: try store.estateCalendar()))
        }
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }

    static func text(_ r: DoctorReport, repaired: JSONValue?, calendar: EstateCalendar) -> String {
        var lines: [String] = []
        let server = r.server.reachable
            ? "reachable, protocol \(r.server.protocolVersion.map(String.init) ?? "not spoken")" : "unreachable (\(r.server.error?.message ?? ""))"
        lines.append("server          \(r.server.url): \(server)")
        lines.append("clock offset    \(r.clockOffsetMs.map { "\($0) ms (round trip \(r.roundTripMs ?? 0) ms)" } ?? "not measured")")
        lines.append("pending edits   \(r.pendingEdits)\(r.oldestPendingSeconds.map { ", oldest \(Self.age($0))" } ?? "")\(r.heldEdits > 0 ? ", \(r.heldEdits) held" : "")")
        let final = r.refused.filter(\.isFinal)
        lines.append("refused edits   \(final.count)\(final.isEmpty ? "" : " (\(final.map(\.code.rawValue).joined(separator: ", ")))")")
        let partial = r.partialUploads.filter { $0.uploadedBytes > 0 }.count
        lines.append("photo uploads   \(r.partialUploads.count) waiting\(partial > 0 ? ", \(partial) partly sent" : "")")
        lines.append("last sync       \(r.lastSync.map { CLI.localTime($0, calendar) } ?? "never")")
        if let error = r.lastError { lines.append("last error      \(error.code): \(error.message) (\(CLI.localTime(error.at, calendar)))") }
        for (zone, status) in r.zones.sorted(by: { $0.key < $1.key }) {
            var line = "zone \(zone)".padding(toLength: 16, withPad: " ", startingAt: 0) + "checksum \(status.checksum.rawValue)"
            if status.repaired > 0 { line += ", \(status.repaired) record(s) repaired" }
            if status.requeued > 0 { line += ", \(status.requeued) edit(s) queued again" }
            if status.checksum != .ok, let reason = status.reason { line += " — \(reason)" }
            lines.append(line)
        }
        if let repaired, repaired["synced"]?.boolValue == false { lines.append("repair          the sync failed: \(repaired["error"]?["message"]?.stringValue ?? "")") }
        let attention = r.attention
        lines.append(attention.isEmpty ? (r.server.reachable ? "all well" : "nothing needs a person; the server cannot be reached now") : "needs a person:")
        lines += attention.map { "  - \($0)" }
        return lines.joined(separator: "\n")
    }

    static func age(_ seconds: Int64) -> String {
        if seconds >= 86_400 { return "\(seconds / 86_400) d \(seconds % 86_400 / 3600) h" }
        if seconds >= 3600 { return "\(seconds / 3600) h \(seconds % 3600 / 60) min" }
        if seconds >= 60 { return "\(seconds / 60) min" }
        return "\(seconds) s"
    }
}
