import ButlerClient
import ButlerModel
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
        let scratch = Scratch("daemon")
        let server = ServerProcess(data: scratch.url.appendingPathComponent("server"))
        let token = try server.addDevice("li", role: "butler", zones: "east-3")
        try server.start()
        let home = scratch.url.appendingPathComponent("li")
        let store = try ClientStore.open(home: home)
        try store.initialize(name: "李管家", serverURL: server.url, token: token)
        let form = try store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "B1 车库")
        let size = 60_000_000
        let file = scratch.url.appendingPathComponent("video-still.jpg")
        try writePhoto(file, bytes: size, seed: 9)
        let sha = try store.attachPhoto(form: form, file: file, item: "hygiene")
        let transport = CurlTransport(configuration: .init(baseURL: server.url, token: token))

        func startDaemon(rate: Int?) throws -> (Process, Pipe) {
            let process = Process()
            process.executableURL = Binaries.url("butler-syncd")
            process.arguments = ["--home", home.path, "--interval", "3600"] + (rate.map { ["--max-upload-rate", String($0)] } ?? [])
            let err = Pipe()
            process.standardError = err
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            return (process, err)
        }

        // The first run is capped at 20 MB/s so the upload is surely under way when SIGTERM arrives.
        let (first, firstLog) = try startDaemon(rate: 20_000_000)
        // Wait until the upload is under way, then ask the daemon to stop.
        var held: Int64 = 0
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            held = try await transport.blobStatus(sha256: sha).received
            if held > 0 { break }
            try await Task.sleep(for: .milliseconds(2))
        }
        let stopAsked = ContinuousClock.now
        first.terminate()
        first.waitUntilExit()
        let stopTime = ContinuousClock.now - stopAsked
        let firstOutput = String(decoding: firstLog.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(first.terminationReason == .exit && first.terminationStatus == 0, "clean exit: \(firstOutput)")
        #expect(stopTime < .seconds(10), "stops promptly even mid-upload (took \(stopTime))")
        // Let the server finish writing what reached it, then note how much it holds.
        try await Task.sleep(for: .milliseconds(500))
        let before = try await transport.blobStatus(sha256: sha)
        #expect(try store.status().pendingEdits == 0, "the records went first")
        #expect(!before.complete && before.received > 0, "cut mid-upload: \(before.received) of \(size), SIGTERM at \(held) bytes, stop took \(stopTime); log: \(firstOutput)")

        let (second, secondLog) = try startDaemon(rate: nil)
        let secondText = LockedData()
        secondLog.fileHandleForReading.readabilityHandler = { handle in secondText.append(handle.availableData) }
        let finishBy = ContinuousClock.now + .seconds(90)
        var done = false
        while ContinuousClock.now < finishBy, !done {
            // Done once the daemon reports the finished sync (the log line follows the upload).
            done = secondText.text.contains("sync.bytes.up=")
            if !done { try await Task.sleep(for: .milliseconds(50)) }
        }
        kill(second.processIdentifier, SIGTERM)
        second.waitUntilExit()
        secondLog.fileHandleForReading.readabilityHandler = nil
        secondText.append(secondLog.fileHandleForReading.readDataToEndOfFile())
        let secondOutput = secondText.text
        #expect(done, "the restarted daemon finished the sync: \(secondOutput)")
        #expect(try await transport.blobStatus(sha256: sha).complete)
        #expect(try store.status().pendingPhotoBytes == 0)
        #expect(second.terminationStatus == 0)
        // It sent only what the server lacked.
        let uploaded = secondOutput.split(separator: "\n").compactMap { line -> Int64? in
            guard let range = line.range(of: "sync.bytes.up=") else { return nil }
            return Int64(line[range.upperBound...].prefix { $0.isNumber })
        }.reduce(0, +)
        #expect(uploaded == Int64(size) - before.received, "resumed from \(before.received): sent \(uploaded)")
        server.stop()
    }
}
