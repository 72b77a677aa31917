import ButlerFiles
import ButlerModel
import ButlerServer
import ButlerTestSupport
import Foundation
import NIOCore
import Testing

/// The blob store on its own: two stores on one folder stand for two server nodes sharing blob storage.
@Suite struct BlobStoreTests {
    static let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    static let sha = SHA256Hasher.hex(of: bytes)

    /// A request body the test feeds piece by piece.
    static func body() -> (AsyncStream<ByteBuffer>, AsyncStream<ByteBuffer>.Continuation) { AsyncStream<ByteBuffer>.makeStream() }

    @Test("an upload of a blob through one node refuses the same blob through another while it runs, and the sweeper leaves it alone")
    func twoNodes() async throws {
        let dir = Scratch("blobs")
        let nodeA = try BlobStore(directory: dir.url)
        let nodeB = try BlobStore(directory: dir.url)
        let (stream, feed) = Self.body()
        let length = Int64(Self.bytes.count)
        let upload = Task { try await nodeA.append(Self.sha, offset: 0, length: length, body: stream) }
        feed.yield(ByteBuffer(bytes: Self.bytes[0..<100_000]))
        // Node A writes the length file while it holds the partial's lock, and keeps the lock
        // until its request ends: once the file is there, node B must be refused.
        let lengthFile = dir.url.appendingPathComponent("partial/\(Self.sha).length")
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: lengthFile.path) { try await Task.sleep(for: .milliseconds(10)) }
        let refused = await #expect(throws: BlobError.self) {
            try await nodeB.append(Self.sha, offset: 0, length: length, body: AsyncStream<ByteBuffer> { $0.finish() })
        }
        #expect(refused?.code == .uploadInProgress)
        // Sweeping with every partial expired keeps the one being written.
        #expect(await nodeB.removePartials(untouchedSince: Date().addingTimeInterval(3600)) == 0)
        feed.yield(ByteBuffer(bytes: Self.bytes[100_000...]))
        feed.finish()
        let done = try await upload.value
        #expect(done.complete && done.received == length)
        #expect(try await nodeB.status(Self.sha).complete)
        #expect(try Data(contentsOf: dir.url.appendingPathComponent(Self.sha)) == Data(Self.bytes))
        // Once installed, the other node answers complete without writing anything.
        let again = try await nodeB.append(Self.sha, offset: 0, length: length, body: AsyncStream<ByteBuffer> { $0.finish() })
        #expect(again.complete)
        #expect(!FileManager.default.fileExists(atPath: dir.url.appendingPathComponent("partial/\(Self.sha)").path))
    }

    @Test("a transfer that breaks keeps every byte that arrived, and a wrong hash discards the upload")
    func brokenAndWrong() async throws {
        let dir = Scratch("blobs")
        let store = try BlobStore(directory: dir.url)
        struct Cut: Error {}
        let length = Int64(Self.bytes.count)
        let broken = AsyncThrowingStream<ByteBuffer, any Error> { c in
            c.yield(ByteBuffer(bytes: Self.bytes[0..<123_457]))
            c.finish(throwing: Cut())
        }
        await #expect(throws: Cut.self) { try await store.append(Self.sha, offset: 0, length: length, body: broken) }
        #expect(try await store.status(Self.sha).received == 123_457)
        let rest = AsyncStream<ByteBuffer> { c in
            c.yield(ByteBuffer(bytes: Self.bytes[123_457...]))
            c.finish()
        }
        #expect(try await store.append(Self.sha, offset: 123_457, length: length, body: rest).complete)

        let wrong = String(repeating: "0", count: 64)
        let body = AsyncStream<ByteBuffer> { c in
            c.yield(ByteBuffer(bytes: Self.bytes))
            c.finish()
        }
        let error = await #expect(throws: BlobError.self) { try await store.append(wrong, offset: 0, length: length, body: body) }
        #expect(error?.code == .hashMismatch)
        #expect(try await store.status(wrong).received == 0)
    }
}
