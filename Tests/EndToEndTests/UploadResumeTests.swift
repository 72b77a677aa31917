import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// Issue 3: a photo upload cut off midway resumes and sends only the missing bytes — the engine
/// against the server's router in process on each backend. The in-process transport streams the
/// chunk in pieces and stops where the cancelled task is, as a cut connection does.
@Suite("Sync engine: resumable photo upload")
struct UploadResumeTests {
    @Test("an upload cut off midway resumes with only the missing bytes", arguments: Backend.available)
    func uploadResume(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "resume") { cluster in try await Self.uploadResume(cluster) }
    }

    static func uploadResume(_ cluster: Cluster<InProcessServer>) async throws {
        let size = 24_000_000
        var config = SyncEngine.Configuration()
        config.uploadChunkSize = Int64(size)  // one request: the cut lands mid-request
        let li = try await cluster.handheld("li", displayName: "李管家", engine: config)
        let store = li.store
        let form = try store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "p")
        let file = try cluster.scratch.photo("big.jpg", bytes: size, seed: 42)
        let sha = try store.attachPhoto(form: form, file: file, item: "tiles")
        let transport = li.transport
        let engine = li.engine

        // Cut the transfer once a third has gone out.
        let upload = Task {
            try await engine.upload(sha256: sha, size: Int64(size)) { progress in
                if progress.bytes > Int64(size / 3) { withUnsafeCurrentTask { $0?.cancel() } }
            }
        }
        let cutAt = ContinuousClock.now
        while !upload.isCancelled, ContinuousClock.now - cutAt < .seconds(30) {
            try await Task.sleep(for: .milliseconds(5))
            if try await transport.blobStatus(sha256: sha).received > Int64(size / 3) { upload.cancel() }
        }
        _ = await upload.result
        // Wait until the server has written everything of the cut request that reached it.
        var held = try await transport.blobStatus(sha256: sha)
        for _ in 0..<50 {
            try await Task.sleep(for: .milliseconds(200))
            let again = try await transport.blobStatus(sha256: sha)
            if again == held { break }
            held = again
        }
        #expect(!held.complete)
        #expect(held.received > 0 && held.received < Int64(size), "the server kept what arrived: \(held.received)")

        let sent = try await engine.upload(sha256: sha, size: Int64(size))
        #expect(sent == Int64(size) - held.received, "the second attempt sent only the missing bytes")
        let done = try await transport.blobStatus(sha256: sha)
        #expect(done.complete && done.received == Int64(size))
        // A third attempt sends nothing: the blob is never sent twice.
        #expect(try await engine.upload(sha256: sha, size: Int64(size)) == 0)
    }
}
