import ArgumentParser
import ButlerClient
import ButlerModel
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Push your edits, upload photos, pull everyone else's changes, fetch their photos.",
        discussion: """
            Exits 0 only when everything is synced. Otherwise exits non-zero with one line saying why: 75 when the \
            server cannot be reached now or held edits back for a reason that can clear (edits-held: a clock set \
            ahead, a zone not yet assigned; nothing is lost, they go again next time), 1 for anything that needs a \
            person (edits-refused: see `butler refused list`).
            Shows a progress bar on a terminal, plain lines otherwise, nothing with --quiet. Photo uploads keep \
            under BUTLER_MAX_UPLOAD_RATE bytes per second when it is set, as butler-syncd's do.

            Examples:
              butler sync
              butler sync --json --quiet
            """)
    @OptionGroup var home: HomeOptions
    @Flag(help: "Print the result as JSON on stdout.") var json = false
    @Flag(help: "No progress output.") var quiet = false

    func run() async throws {
        let configuration = try home.configuration()
        let store = try home.open(configuration)
        let engine = try SyncEngine.forStore(store, maxUploadBytesPerSecond: configuration.maxUploadBytesPerSecond)
        let renderer = ProgressRenderer(mode: quiet ? .quiet : (isatty(2) == 1 ? .bar : .lines))
        let report: SyncReport
        do {
            report = try await engine.sync(progress: renderer.update)
            renderer.finish()
        } catch {
            renderer.finish()
            throw error
        }
        let status = try store.status()
        if json {
            CLI.print(["report": report.jsonValue, "status": status.jsonValue])
        } else if !quiet {
            FileHandle.standardError.write(Data(
                "butler: synced: \(report.pushed) edit(s) pushed, \(report.pulled) change(s) pulled, \(report.photosUploaded) photo(s) up, \(report.photosDownloaded) down\n".utf8))
        }
        if let left = try engine.completion().error { throw left }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "What is waiting to sync on this handheld.",
        discussion: "Examples:\n  butler status\n  butler status --json")
    @OptionGroup var home: HomeOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let store = try home.open()
        let status = try store.status()
        if json {
            var o = status.jsonValue.objectValue ?? [:]
            o["refused"] = .array(try store.refusedEdits().map(\.jsonValue))
            CLI.print(.object(o))
            return
        }
        print("server         \(status.server ?? "not set up")")
        print("pending edits  \(status.pendingEdits)")
        print("refused edits  \(status.refusedEdits)")
        print("held edits     \(status.heldEdits)")
        print("photo bytes    \(status.pendingPhotoBytes) to upload, \(status.missingPhotos) photo(s) to fetch")
        print("last sync      \(try status.lastSync.map { CLI.localTime($0, try store.estateCalendar()) } ?? "never")")
    }
}

struct Conflicts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open conflicts on this handheld and the rule that resolved each.",
        discussion: """
            A conflict stays listed until someone who has seen every value writes a new one \
            (`butler form set …`). Late edits (made while someone else submitted the form) are listed for review.

            Examples:
              butler conflicts
              butler conflicts --json
            """)
    @OptionGroup var home: HomeOptions
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let conflicts = try home.open().conflicts()
        if json {
            CLI.print(.array(conflicts.map(\.jsonValue)))
            return
        }
        if conflicts.isEmpty { print("no conflicts") }
        for c in conflicts {
            print("\(c.record)  \(c.field)  [\(c.rule.rawValue)]")
            print("  \(c.explanation)")
        }
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Play the model's worked conflict in memory (no server needed).")

    func run() async throws {
        try MergeDemo.run()
    }
}

/// Renders sync progress: a one-line bar on a terminal, plain lines in logs, or nothing.
final class ProgressRenderer: Sendable {
    enum Mode { case bar, lines, quiet }

    struct State {
        var phase: SyncProgress.Phase?
        var lastLine = ContinuousClock.now
    }

    let mode: Mode
    let start = ContinuousClock.now
    let state = Mutex(State())

    init(mode: Mode) { self.mode = mode }

    func update(_ progress: SyncProgress) {
        guard mode != .quiet else { return }
        let taken = (ContinuousClock.now - start).components
        let elapsed = max(0.001, Double(taken.seconds) + Double(taken.attoseconds) / 1e18)
        let rate = Double(progress.bytes) / elapsed
        let bytes = progress.totalBytes.map { "\(Self.size(progress.bytes))/\(Self.size($0))" } ?? Self.size(progress.bytes)
        let line = "\(progress.phase.rawValue): \(progress.records) record(s), \(bytes), \(Self.size(Int64(rate)))/s"
        state.withLock { state in
            switch mode {
            case .bar:
                FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
            case .lines:
                if state.phase != progress.phase || ContinuousClock.now - state.lastLine > .seconds(2) {
                    FileHandle.standardError.write(Data("butler: \(line)\n".utf8))
                    state.lastLine = ContinuousClock.now
                }
            case .quiet:
                break
            }
            state.phase = progress.phase
        }
    }

    func finish() {
        if mode == .bar { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    static func size(_ bytes: Int64) -> String {
        if bytes >= 1 << 20 { return String(format: "%.1f MB", Double(bytes) / 1_048_576) }
        if bytes >= 1 << 10 { return String(format: "%.1f KB", Double(bytes) / 1024) }
        return "\(bytes) B"
    }
}
