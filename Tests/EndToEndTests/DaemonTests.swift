import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `butler-syncd`: start, sync, SIGTERM mid-upload, restart, finish.
@Suite("End to end: butler-syncd", .serialized)
struct DaemonTests {
    @Test("syncs on start, stops promptly on SIGTERM mid-upload, and the restart finishes the upload without resending it")
    func daemon() async throws {
        let cluster = try await Cluster.processes("daemon")
        let (scratch, server) = (cluster.scratch, cluster.node)
        let token = try await server.addDevice("li", role: .butler, zones: ["east-3"])
        let home = scratch.url.appendingPathComponent("li")
        let store = try ClientStore.open(home: home)
        try store.initialize(name: "李管家", serverURL: server.url, token: token)
        let form = try store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "B1 车库")
        let size = 60_000_000
        let file = scratch.url.appendingPathComponent("video-still.jpg")
        try writePhoto(file, bytes: size, seed: 9)
        let sha = try store.attachPhoto(form: form, file: file, item: "hygiene")
        let transport = CurlTransport(configuration: .init(baseURL: server.url, token: token))

        func startDaemon(rate: Int?) throws -> ChildProcess {
            try ChildProcess(
                Binaries.url("butler-syncd"), ["--home", home.path, "--interval", "3600"] + (rate.map { ["--max-upload-rate", String($0)] } ?? []),
                captureStdout: false)
        }

        // The first run is capped at 4 MB/s (15 s for the photo) so the upload is surely under way
        // when SIGTERM arrives, even when tests running in parallel slow this one's polling down
        // (at 20 MB/s a loaded 2-core machine once saw the upload finish first). SIGTERM follows
        // the first bytes, so the cap does not lengthen the test.
        let first = try startDaemon(rate: 4_000_000)
        // Wait until the upload is under way, then ask the daemon to stop.
        var held: Int64 = 0
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            held = try await transport.blobStatus(sha256: sha).received
            if held > 0 { break }
            try await Task.sleep(for: .milliseconds(2))
        }
        let stopAsked = ContinuousClock.now
        let firstExit = await first.stop(SIGTERM)
        let stopTime = ContinuousClock.now - stopAsked
        await first.stderr?.end()
        let firstOutput = first.stderr?.text ?? ""
        #expect(!firstExit.signalled && firstExit.status == 0, "clean exit: \(firstOutput)")
        #expect(stopTime < .seconds(10), "stops promptly even mid-upload (took \(stopTime))")
        // Let the server finish writing what reached it, then note how much it holds.
        try await Task.sleep(for: .milliseconds(500))
        let before = try await transport.blobStatus(sha256: sha)
        #expect(try store.status().pendingEdits == 0, "the records went first")
        #expect(!before.complete && before.received > 0, "cut mid-upload: \(before.received) of \(size), SIGTERM at \(held) bytes, stop took \(stopTime); log: \(firstOutput)")

        let second = try startDaemon(rate: nil)
        // Done once the daemon reports the finished sync (the log line follows the upload).
        let done = await second.stderr?.wait(for: "sync.bytes.up=", within: .seconds(90), unless: { !second.isRunning }) ?? false
        let secondExit = await second.stop(SIGTERM)
        await second.stderr?.end()
        let secondOutput = second.stderr?.text ?? ""
        #expect(done, "the restarted daemon finished the sync: \(secondOutput)")
        #expect(try await transport.blobStatus(sha256: sha).complete)
        #expect(try store.status().pendingPhotoBytes == 0)
        #expect(secondExit.status == 0)
        // It sent only what the server lacked.
        let uploaded = secondOutput.split(separator: "\n").compactMap { line -> Int64? in
            guard let range = line.range(of: "sync.bytes.up=") else { return nil }
            return Int64(line[range.upperBound...].prefix { $0.isNumber })
        }.reduce(0, +)
        #expect(uploaded == Int64(size) - before.received, "resumed from \(before.received): sent \(uploaded)")
        await server.stop()
    }
}
