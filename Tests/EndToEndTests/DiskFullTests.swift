import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// A size-limited file system the test makes itself (tmpfs; needs root, as in CI).
final class SmallDisk: Sendable {
    let url: URL
    static let available: Bool = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/mount")

    init(megabytes: Int) async throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("butler-disk-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try await Self.mount(["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", url.path])
    }

    /// Gives the file system more room: space returns.
    func grow(megabytes: Int) async throws {
        try await Self.mount(["-o", "remount,size=\(megabytes)m", url.path])
    }

    /// Unmounts and removes the folder.
    func remove() async {
        _ = try? await runCommand(URL(fileURLWithPath: "/bin/umount"), [url.path])
        try? FileManager.default.removeItem(at: url)
    }

    deinit {
        // A test that threw before `remove()`: detach lazily without waiting (a deinit cannot
        // await), so nothing stays mounted once the last file closes.
        _ = try? ChildProcess(URL(fileURLWithPath: "/bin/umount"), ["-l", url.path], captureStdout: false, captureStderr: false)
    }

    static func mount(_ arguments: [String]) async throws {
        let result = try await runCommand(URL(fileURLWithPath: "/bin/mount"), arguments)
        guard result.status == 0 else { throw TestFailure("mount \(arguments.joined(separator: " ")) failed: \(result.stderr)") }
    }
}

/// Issue 8: a full disk on the handheld and on the server gives a clear error, corrupts nothing,
/// and everything recovers when space returns.
@Suite(
    "End to end: full disks", .serialized,
    .enabled(if: SmallDisk.available, "SKIPPED: making a size-limited file system needs root (CI runs as root)"))
struct DiskFullTests {
    @Test("the handheld's disk fills: storage-full, the store stays readable, nothing acknowledged is lost; then it syncs")
    func clientDiskFull() async throws {
        let cluster = try await Cluster.processes("client-full")
        let (scratch, server) = (cluster.scratch, cluster.node)
        let token = try await server.addDevice("li", role: .butler, zones: ["east-3"])
        defer { server.terminate() }
        let disk = try await SmallDisk(megabytes: 6)
        let home = disk.url.appendingPathComponent("li")
        let store = try ClientStore.open(home: home)
        try store.initialize(name: "李管家", serverURL: server.url, token: token)
        let form = try store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "B1")
        var acknowledged: [String] = []
        var fullError: ClientError?
        for n in 0..<40 {
            let file = scratch.url.appendingPathComponent("p\(n).jpg")
            try writePhoto(file, bytes: 400_000, seed: UInt64(n + 1))
            do {
                try store.addNote(form: form, item: "tiles", text: "note \(n)")
                acknowledged.append("note \(n)")
                try store.attachPhoto(form: form, file: file, item: "tiles")
            } catch let error as ClientError {
                fullError = error
                break
            }
        }
        let error = try #require(fullError, "the 6 MB disk filled up")
        #expect(error.code == .storageFull, "\(error)")
        // Nothing corrupted: the store opens again and holds every acknowledged edit.
        let reopened = try ClientStore.open(home: home)
        let texts = try reopened.form(form).items["tiles"]?.notes.map(\.text) ?? []
        #expect(Set(acknowledged).isSubset(of: Set(texts)))
        // Space returns: more edits, and a full sync.
        try await disk.grow(megabytes: 64)
        try reopened.addNote(form: form, item: "tiles", text: "after")
        let engine = SyncEngine(store: reopened, transport: CurlTransport(configuration: .init(baseURL: server.url, token: token)))
        _ = try await engine.sync()
        #expect(try reopened.status().pendingEdits == 0 && reopened.status().pendingPhotoBytes == 0)
        await server.stop()
        await disk.remove()
    }

    @Test("the server's disk fills: 507 storage-full, the server stays up, and the client finishes when space returns")
    func serverDiskFull() async throws {
        let scratch = Scratch("server-full")
        let disk = try await SmallDisk(megabytes: 8)
        let server = ServerProcess(data: disk.url.appendingPathComponent("server"))
        let token = try await server.addDevice("li", role: .butler, zones: ["east-3"])
        try await server.start()
        defer { server.terminate() }
        let store = try ClientStore.open(home: scratch.url.appendingPathComponent("li"))
        try store.initialize(name: "李管家", serverURL: server.url, token: token)
        let form = try store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "B1")
        for n in 0..<6 {
            let file = scratch.url.appendingPathComponent("p\(n).jpg")
            try writePhoto(file, bytes: 2_000_000, seed: UInt64(n + 100))
            try store.attachPhoto(form: form, file: file, item: "hygiene")
        }
        let transport = CurlTransport(configuration: .init(baseURL: server.url, token: token))
        let engine = SyncEngine(store: store, transport: transport)
        do {
            _ = try await engine.sync()
            Issue.record("12 MB of photos cannot fit on an 8 MB disk")
        } catch let error as ClientError {
            #expect(error.code == .serverError && error.message.contains("storage"), "\(error)")
            #expect(error.isTransient, "a full server is retried later, not given up")
        }
        #expect(try await transport.device().name == "li", "the server is still up")
        try await disk.grow(megabytes: 128)
        _ = try await engine.sync()
        #expect(try store.status().pendingEdits == 0 && store.status().pendingPhotoBytes == 0)
        await server.stop()
        await disk.remove()
    }
}
