import ButlerModel
import ButlerServer
import ButlerTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Per-device limits on what reaches the server's disk: photo bytes per day, photos no record
/// references, and their expiry.
@Suite("Blob quotas")
struct QuotaTests {
    typealias F = ServerFixture

    static func sha(_ bytes: [UInt8]) -> String { SHA256Hasher.hex(of: bytes) }

    static func upload(_ client: some TestClientProtocol, _ f: ServerFixture, _ device: String, _ bytes: [UInt8]) async throws -> TestResponse {
        try await client.execute(
            uri: "/v1/blobs/\(sha(bytes))/upload?offset=0&length=\(bytes.count)", method: .patch, headers: f.headers(device), body: ByteBuffer(bytes: bytes))
    }

    /// Pushes the photo record that references `bytes`, as the device's sync does before uploading.
    static func reference(_ client: some TestClientProtocol, _ f: ServerFixture, _ device: String, _ replica: String, _ bytes: [UInt8]) async throws {
        let sha = sha(bytes)
        var state = RecordState(id: try Photo.recordID(sha256: sha, zone: Deltas.zone), type: .photo, zone: Deltas.zone)
        let delta = try Photo.record(
            &state, sha256: sha, bytes: Int64(bytes.count), mediaType: "image/jpeg", takenAt: F.now, caption: nil, attachTo: RecordID("form-1"),
            item: "fire-door", stamp: Deltas.stamp(replica, 1_795_000_000_000))
        let response = try await client.execute(uri: "/v1/push", method: .post, headers: f.headers(device), body: F.body(Deltas.push([delta])))
        #expect(try PushResponse(json: F.json(response)).results.map(\.status) == [.accepted])
    }

    @Test("a device's photo bytes per day are capped; another device is unaffected", arguments: Backend.available)
    func dailyQuota(_ backend: Backend) async throws {
        try await ServerFixture.with(backend, configure: { $0.blobBytesPerDevicePerDay = 1000 }) { f in
            try await f.app().test(.router) { client in
                let a = [UInt8](repeating: 1, count: 600)
                let b = [UInt8](repeating: 2, count: 600)
                try await Self.reference(client, f, "li", "li-dev", a)
                try await Self.reference(client, f, "li", "li-dev", b)
                #expect(try await Self.upload(client, f, "li", a).status == .ok)
                let refused = try await Self.upload(client, f, "li", b)
                #expect(refused.status == .tooManyRequests)
                #expect(try F.json(refused)["code"] == "quota-exceeded")
                #expect(try BlobStatus(json: F.json(try await client.execute(uri: "/v1/blobs/\(Self.sha(b))/upload", method: .get, headers: f.headers("li")))).received == 0)
                // Another device's quota is its own; a blob already held costs nothing again.
                #expect(try await Self.upload(client, f, "wang", b).status == .ok)
                #expect(try await Self.upload(client, f, "li", b).status == .ok)
            }
        }
    }

    @Test("parallel uploads of one device cannot pass its daily quota together; what does not arrive is given back", arguments: Backend.available)
    func parallelUploads(_ backend: Backend) async throws {
        try await ServerFixture.with(backend, configure: { $0.blobBytesPerDevicePerDay = 1000 }) { f in
            try await f.app().test(.router) { client in
                let photos = (0..<4).map { [UInt8](repeating: UInt8(10 + $0), count: 600) }
                for photo in photos { try await Self.reference(client, f, "li", "li-dev", photo) }
                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for photo in photos { group.addTask { try await Self.upload(client, f, "li", photo).status } }
                    var all: [HTTPResponse.Status] = []
                    for try await status in group { all.append(status) }
                    return all
                }
                #expect(statuses.filter { $0 == .ok }.count == 1, "\(statuses)")
                #expect(statuses.filter { $0 == .tooManyRequests }.count == 3)
                let day = String(Timestamp.format(F.now).prefix(10))
                #expect(try await f.storage.uploadedBytes(device: "li", day: day) == 600)
                // A chunk of half a photo: 300 bytes arrive, the other 300 reserved are given back.
                let wang = [UInt8](repeating: 99, count: 600)
                try await Self.reference(client, f, "wang", "wang-dev", wang)
                let half = try await client.execute(
                    uri: "/v1/blobs/\(Self.sha(wang))/upload?offset=0&length=600", method: .patch, headers: f.headers("wang"), body: ByteBuffer(bytes: wang.prefix(300)))
                #expect(half.status == .ok)
                #expect(try await f.storage.uploadedBytes(device: "wang", day: day) == 300)
            }
        }
    }

    @Test("photos no record references are capped per device, and expire", arguments: Backend.available)
    func unreferenced(_ backend: Backend) async throws {
        try await ServerFixture.with(backend, configure: { $0.unreferencedBlobBytesPerDevice = 1000 }) { f in
            try await f.app().test(.router) { client in
                let orphan = [UInt8](repeating: 3, count: 800)
                let second = [UInt8](repeating: 4, count: 800)
                let kept = [UInt8](repeating: 5, count: 800)
                #expect(try await Self.upload(client, f, "li", orphan).status == .ok)
                let refused = try await Self.upload(client, f, "li", second)
                #expect(refused.status == .tooManyRequests)
                #expect(try F.json(refused)["code"] == "quota-exceeded")
                // With its record pushed first, a photo is not an orphan and is accepted.
                try await Self.reference(client, f, "li", "li-dev", kept)
                #expect(try await Self.upload(client, f, "li", kept).status == .ok)
                // A partial upload nobody finishes.
                let partial = [UInt8](repeating: 6, count: 10)
                let started = try await client.execute(
                    uri: "/v1/blobs/\(Self.sha(partial))/upload?offset=0&length=20", method: .patch, headers: f.headers("wang"), body: ByteBuffer(bytes: partial))
                #expect(try BlobStatus(json: F.json(started)).received == 10)
                let sweeper = BlobSweeper(storage: f.storage, blobs: f.blobs, configuration: f.configuration)
                #expect(try await sweeper.sweep(now: F.now) == BlobSweeper.Report(), "nothing has expired yet")
                let later = Date().addingTimeInterval(f.configuration.unreferencedBlobTTL + 60)
                let report = try await sweeper.sweep(now: later)
                #expect(report.blobs == 1)
                #expect(report.bytes == 800)
                #expect(report.partials == 1)
                #expect(try await f.blobs.completeSize(Self.sha(orphan)) == nil)
                #expect(try await f.blobs.completeSize(Self.sha(kept)) == 800)
                // The orphan's bytes no longer count against li.
                #expect(try await Self.upload(client, f, "li", second).status == .ok)
            }
        }
    }
}
