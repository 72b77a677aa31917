import ButlerFiles
import ButlerModel
import Foundation
import Hummingbird
import Metrics
import NIOCore

/// `/v1/blobs/{sha256}` (download with Range) and `/v1/blobs/{sha256}/upload` (status, append).
struct BlobRoutes {
    let storage: any SyncStorage
    let blobs: BlobStore
    let configuration: ServerConfiguration

    func register(on group: RouterGroup<DeviceRequestContext>) {
        group.get("blobs/{sha256}/upload") { _, context in
            return Response.json(try await blobs.status(try sha(context)).jsonValue)
        }
        group.patch("blobs/{sha256}/upload") { request, context in
            let device = context.device
            let sha = try sha(context)
            let query = request.uri.queryParameters
            guard let offset = query.get("offset").flatMap({ Int64($0) }), offset >= 0,
                let length = query.get("length").flatMap({ Int64($0) }), length >= 0
            else { throw APIError(.badRequest, .invalidValue, "offset and length must be whole numbers ≥ 0") }
            let current = try await blobs.status(sha)
            if current.complete { return Response.json(current.jsonValue) }
            let now = configuration.clock.now()
            let reserved = try await reserveQuota(device: device, sha: sha, offset: offset, length: length, now: now)
            let status: BlobStatus
            do {
                status = try await blobs.append(sha, offset: offset, length: length, body: request.body)
            } catch {
                // Give back what was reserved and did not arrive (a cut upload resumes later). A
                // refusal before any byte was written gives back all of it: what the file holds
                // past `offset` then came from another request, not from this one.
                let refusedBeforeWriting = (error as? BlobError).map { [.blobTooLarge, .uploadInProgress, .lengthMismatch, .offsetMismatch].contains($0.code) } ?? false
                let held = refusedBeforeWriting ? offset : ((try? await blobs.status(sha).received) ?? offset)
                try? await storage.addUploadedBytes(device: device.name, day: Self.day(now), bytes: max(0, held - offset) - reserved)
                throw (error as? BlobError).map(Self.reply) ?? error
            }
            let received = max(0, status.received - offset)
            Counter(label: "butler_server_blob_bytes_in_total").increment(by: Int(received))
            if received != reserved { try await storage.addUploadedBytes(device: device.name, day: Self.day(now), bytes: received - reserved) }
            if status.complete { try await storage.recordBlob(sha256: sha, device: device.name, bytes: length, at: now) }
            return Response.json(status.jsonValue)
        }
        group.get("blobs/{sha256}") { request, context in
            try await download(request, context)
        }
    }

    /// The HTTP reply for a refusal of the blob store.
    static func reply(_ error: BlobError) -> APIError {
        let status: HTTPResponse.Status =
            switch error.code {
            case .blobTooLarge: .contentTooLarge
            case .lengthMismatch, .offsetMismatch, .uploadInProgress: .conflict
            case .hashMismatch: .unprocessableContent
            default: .badRequest
            }
        return APIError(status, error.code, error.message)
    }

    /// The UTC day a quota counts in.
    static func day(_ date: Date) -> String { String(Timestamp.format(date).prefix(10)) }

    /// Refuses an upload that would take `device` past the bytes of photos it may hold that no
    /// record references, or past its daily bytes (`quota-exceeded`, 429; the client retries
    /// later); otherwise reserves the bytes still to come against the day's quota, atomically, so
    /// that parallel uploads cannot each pass the check. Returns the bytes reserved; the caller
    /// gives back what does not arrive. Quotas bound what one device can put on the server's disk.
    func reserveQuota(device: DeviceRecord, sha: String, offset: Int64, length: Int64, now: Date) async throws -> Int64 {
        // Referenced by a photo record of the device's zones: exact-id lookups, on every chunk.
        if try await !storage.isPhotoVisible(sha256: sha, zones: device.zones) {
            let held = try await storage.unreferencedBlobs().filter { $0.device == device.name }.reduce(Int64(0)) { $0 + $1.bytes }
            guard held + length <= configuration.unreferencedBlobBytesPerDevice else {
                Counter(label: "butler_server_quota_refusals_total", dimensions: [("quota", "unreferenced")]).increment()
                throw APIError(
                    .tooManyRequests, .quotaExceeded,
                    "device \(device.name) holds \(held) bytes of photos no record references; push the records first, or wait until they expire")
            }
        }
        let incoming = max(0, length - offset)
        let limit = configuration.blobBytesPerDevicePerDay
        guard try await storage.reserveUploadBytes(device: device.name, day: Self.day(now), bytes: incoming, limit: limit) else {
            Counter(label: "butler_server_quota_refusals_total", dimensions: [("quota", "daily")]).increment()
            let used = try await storage.uploadedBytes(device: device.name, day: Self.day(now))
            throw APIError(
                .tooManyRequests, .quotaExceeded,
                "device \(device.name) has uploaded \(used) photo bytes today; \(incoming) more would pass its daily quota of \(limit); it is kept and sent tomorrow")
        }
        return incoming
    }

    func sha(_ context: DeviceRequestContext) throws -> String {
        let sha = try context.parameters.require("sha256")
        guard Photo.isSHA256(sha) else {
            throw APIError(.badRequest, .invalidValue, "a blob is named by 64 lower-case hex digits")
        }
        return sha
    }

    func download(_ request: Request, _ context: DeviceRequestContext) async throws -> Response {
        let device = context.device
        let sha = try sha(context)
        // A photo is visible to the devices of the zones whose records reference it.
        guard let size = try await blobs.completeSize(sha), try await storage.isPhotoVisible(sha256: sha, zones: device.zones) else {
            throw APIError(.notFound, .notFound, "no photo \(sha) in your zones")
        }
        var range: ClosedRange<Int64> = 0...(size - 1)
        var status = HTTPResponse.Status.ok
        if let header = request.headers[.range] {
            guard let parsed = Self.parseRange(header, size: size) else {
                var response = Response.json(WireError(code: .rangeNotSatisfiable, message: "cannot serve \(header) of \(size) bytes").jsonValue, status: .rangeNotSatisfiable)
                response.headers[.contentRange] = "bytes */\(size)"
                return response
            }
            range = parsed
            status = .partialContent
        }
        if size == 0 { return Response(status: .ok, headers: [.contentLength: "0", .contentType: "application/octet-stream"]) }
        let count = range.upperBound - range.lowerBound + 1
        var headers: HTTPFields = [
            .contentType: "application/octet-stream", .contentLength: String(count), .acceptRanges: "bytes",
            .eTag: "\"\(sha)\"",
        ]
        if status == .partialContent { headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)" }
        let start = range.lowerBound
        let body = ResponseBody(contentLength: Int(count)) { [blobs] writer in
            let sent = try await blobs.read(sha, from: start, count: count) { chunk in try await writer.write(ByteBuffer(bytes: chunk)) }
            Counter(label: "butler_server_blob_bytes_out_total").increment(by: Int(sent))
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// Parses a single `bytes=` range (`a-b`, `a-`, `-n`) against a blob of `size` bytes.
    static func parseRange(_ header: String, size: Int64) -> ClosedRange<Int64>? {
        guard header.hasPrefix("bytes="), size > 0 else { return nil }
        let spec = header.dropFirst(6)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces)
        let last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            guard let n = Int64(last), n > 0 else { return nil }
            return max(0, size - n)...(size - 1)
        }
        guard let a = Int64(first), a >= 0, a < size else { return nil }
        if last.isEmpty { return a...(size - 1) }
        guard let b = Int64(last), b >= a else { return nil }
        return a...min(b, size - 1)
    }
}
