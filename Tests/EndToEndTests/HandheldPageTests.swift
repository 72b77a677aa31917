import ButlerClient
import ButlerModel
import ButlerTestSupport
import ButlerFiles
import Foundation
import Testing

/// Whether the handheld page's browser test can run: Debian's chromium and chromedriver, and
/// selenium for python3 (`Tests/run.sh` installs them in CI).
enum HandheldBrowser {
    static let chromium = "/usr/bin/chromium"
    static let chromedriver = "/usr/bin/chromedriver"
    static let script = Binaries.packageRoot.appendingPathComponent("Tests/browser/handheld.py")

    static let available: Bool = {
        guard FileManager.default.isExecutableFile(atPath: chromium), FileManager.default.isExecutableFile(atPath: chromedriver) else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import selenium"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()
}

/// Issue 16, the butler's handheld page: a real `butler ui` process over a real store, driven by
/// headless Chromium at 360×640 (Tests/browser/handheld.py), a real `butler-server` stopped during
/// the patrol and started for "sync now"; a second device then finds the form on the server.
@Suite("End to end: the butler's handheld page in a real browser", .serialized)
struct HandheldPageTests {
    @Test(
        "a patrol filled in the browser while the server is down (ok, defect with a note, a photo, submit) reaches the server on \"sync now\"",
        .enabled(if: HandheldBrowser.available, "SKIPPED: chromium, chromedriver or python3's selenium is missing; Tests/run.sh installs them"))
    func offlinePatrolThenSync() async throws {
        let cluster = try await Cluster.processes("handheld-page")
        defer { cluster.terminate() }
        let (scratch, server) = (cluster.scratch, cluster.node)
        let li = scratch.path("li").path, zhou = scratch.path("zhou").path
        for (name, home, role) in [("李管家", li, DeviceRole.butler), ("周主管", zhou, .supervisor)] {
            let token = try await server.addDevice(name, role: role, zones: ["east-3"])
            let initialized = try await runCommand("butler", ["--home", home, "init", "--server", server.url, "--token", token, "--name", name])
            try #require(initialized.status == 0, "\(initialized.stderr)")
        }
        // The butler walks into the basement: no server from here on until the script says so.
        await server.stop()

        let ui = try ChildProcess(Binaries.url("butler"), ["--home", li, "ui", "--port", "0"])
        defer { ui.signal(SIGKILL) }
        let stdout = try #require(ui.stdout)
        let printed = await stdout.wait(for: "\n", within: .seconds(30), unless: { !ui.isRunning })
        try #require(printed, "butler ui printed no URL: \(ui.stderr?.text ?? "")")
        let url = String(stdout.text.prefix { $0 != "\n" })
        try #require(url.wholeMatch(of: /http:\/\/127\.0\.0\.1:[0-9]+\//) != nil, "the first line is the URL alone: \(url)")

        let screens = scratch.path("screens"), photo = scratch.path("stairwell.jpg")
        let offlineDone = scratch.path("offline-done"), serverUp = scratch.path("server-up"), formOut = scratch.path("form-id")
        let syncedMark = scratch.path("synced"), reviewedMark = scratch.path("reviewed")
        let browser = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", HandheldBrowser.script.path, "--url", url, "--screens", screens.path, "--photo", photo.path,
             "--offline-done", offlineDone.path, "--server-up", serverUp.path, "--form-id-out", formOut.path,
             "--synced", syncedMark.path, "--reviewed", reviewedMark.path])
        defer { browser.signal(SIGKILL) }

        // The offline part runs first; then the server comes back on the port the device knows.
        let clock = ContinuousClock(), deadline = clock.now + .seconds(300)
        func waitFor(_ mark: URL) async throws -> Bool {
            while !FileManager.default.fileExists(atPath: mark.path), browser.isRunning, clock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            return FileManager.default.fileExists(atPath: mark.path)
        }
        if try await waitFor(offlineDone) {
            // Nothing reached the server while it was down: the edits wait on the device.
            let pending = try ClientStore.open(home: URL(fileURLWithPath: li)).status()
            #expect(pending.pendingEdits > 0)
            #expect(pending.pendingPhotoBytes > 0)
            try await server.start()
            _ = FileManager.default.createFile(atPath: serverUp.path, contents: Data())
        }
        if try await waitFor(syncedMark) {
            // On the server, seen through the supervisor's device: submitted, the defect, its note, the photo's bytes.
            let form = try String(contentsOf: formOut, encoding: .utf8)
            let synced = try await runCommand("butler", ["--home", zhou, "sync", "--quiet"])
            #expect(synced.status == 0, "\(synced.stderr)")
            let supervisor = try ClientStore.open(home: URL(fileURLWithPath: zhou))
            let view = try supervisor.form(RecordID(form))
            #expect(view.status.state == .submitted)
            #expect(view.place == "3号楼2单元 楼梯间")
            #expect(view.items["water-meter"]?.result == .ok)
            let defect = try #require(view.items["stairwell-lights"])
            #expect(defect.result == .defect)
            #expect(defect.notes.map(\.text) == ["3F 走廊灯不亮"])
            let jpeg = try Data(contentsOf: photo)
            #expect(jpeg.starts(with: [0xFF, 0xD8, 0xFF]))
            let sha = try StreamingSHA256.of(file: photo).sha256
            #expect(defect.photos == [sha])
            #expect(try Data(contentsOf: supervisor.blobURL(sha)) == jpeg)
            // The butler's own device: everything went.
            let after = try ClientStore.open(home: URL(fileURLWithPath: li)).status()
            #expect(after.pendingEdits == 0 && after.pendingPhotoBytes == 0)
            // The supervisor reviews it; the butler's page is to show that after its next sync.
            let reviewed = try await runCommand("butler", ["--home", zhou, "form", "review", form, "--note", "灯具已报修，派工单已建"])
            #expect(reviewed.status == 0, "\(reviewed.stderr)")
            let pushed = try await runCommand("butler", ["--home", zhou, "sync", "--quiet"])
            #expect(pushed.status == 0, "\(pushed.stderr)")
            _ = FileManager.default.createFile(atPath: reviewedMark.path, contents: Data())
        }
        let (exit, timedOut) = await browser.exit(within: .seconds(240))
        _ = await browser.stderr?.end()
        Self.keep(screens)
        try #require(!timedOut && exit.status == 0, "handheld.py: \(browser.stderr?.text ?? "")")
        let form = try String(contentsOf: formOut, encoding: .utf8)
        #expect(try ClientStore.open(home: URL(fileURLWithPath: li)).form(RecordID(form)).status.state == .reviewed)

        // SIGTERM stops the page gracefully; nothing failed on either side.
        let stopped = await ui.stop(SIGTERM)
        _ = await ui.stderr?.end()
        let uiLog = ui.stderr?.text ?? "", serverLog = server.log
        #expect(stopped.status == 0 && !stopped.signalled, "butler ui: \(uiLog)")
        let uiFailed = uiLog.contains("request failed"), serverFailed = serverLog.contains("request failed")
        #expect(!uiFailed, "\(uiLog)")
        #expect(!serverFailed, "\(serverLog)")
    }

    /// Keeps the screenshots as test artifacts (`.build/test-artifacts/screens/`).
    static func keep(_ screens: URL) {
        let artifacts = Binaries.packageRoot.appendingPathComponent(".build/test-artifacts/screens")
        try? FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: screens.path)) ?? [] where name.hasSuffix(".png") {
            let target = artifacts.appendingPathComponent(name)
            try? FileManager.default.removeItem(at: target)
            try? FileManager.default.copyItem(at: screens.appendingPathComponent(name), to: target)
        }
    }
}
