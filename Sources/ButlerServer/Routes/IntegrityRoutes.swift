import ButlerFiles
import ButlerModel
import Foundation
import Hummingbird
import NIOCore

/// `/v1/digests`, `/v1/fetch`, `/v1/time` and the `checksums` of the pull page that ends a
/// catch-up (`Protocol/SYNC.md` §8.3): what a device needs to check that it holds what the server
/// holds, and to repair only what differs.
///
/// Every route answers only about a zone of the calling device (`zone-forbidden` otherwise), so a
/// device learns nothing through a digest or a fetch that its pull would not show it; and every
/// answer is bounded (a fetch names at most ``IntegrityLimits/maxFetchIDs`` ids, a bucket listing
/// is paged), so no request makes the server do more than one pass over one zone.
struct IntegrityRoutes {
    let storage: any SyncStorage
    let configuration: ServerConfiguration

    func register(on group: RouterGroup<DeviceRequestContext>) {
        group.get("digests") { request, context in try await digests(request, context) }
        group.post("fetch") { request, context in try await fetch(request, context) }
        group.get("time") { _, _ in
            let now = Int64((configuration.clock.now().timeIntervalSince1970 * 1000).rounded())
            return Response.json(ServerTime(millis: now, protocols: [WireProtocol.version]).jsonValue)
        }
    }

    /// The zone a request names, checked against the calling device's zones.
    static func zone(_ text: String?, of device: DeviceRecord) throws -> Zone {
        guard let text, let zone = try? Zone(text) else { throw APIError(.badRequest, .invalidValue, "name a zone: zone=<zone>") }
        guard device.zones.contains(zone) else {
            throw APIError(.forbidden, .zoneForbidden, "device \(device.name) may not read zone \(zone)")
        }
        return zone
    }

    func digests(_ request: Request, _ context: DeviceRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let zone = try Self.zone(query.get("zone"), of: context.device)
        guard let bucketName = query.get("bucket") else {
            let buckets = RecordDigests.buckets(try await storage.recordHashes(zone: zone))
            return Response.json(BucketDigests(zone: zone, buckets: buckets.mapValues(\.hex)).jsonValue)
        }
        guard let bucket = BucketDigests.bucket(named: bucketName) else {
            throw APIError(.badRequest, .invalidValue, "bucket must be two lower-case hex digits (00…ff)")
        }
        var limit = IntegrityLimits.maxBucketPage
        if let text = query.get("limit") {
            guard let value = Int(text), (1...IntegrityLimits.maxBucketPage).contains(value) else {
                throw APIError(.badRequest, .invalidValue, "limit must be 1…\(IntegrityLimits.maxBucketPage)")
            }
            limit = value
        }
        let rows = try await storage.recordHashes(zone: zone, bucket: bucket, after: query.get("after"), limit: limit + 1)
        let page = BucketHashes(records: rows.prefix(limit).map { BucketHashes.Entry(id: $0.id, hash: $0.hash) }, more: rows.count > limit)
        return Response.json(page.jsonValue)
    }

    func fetch(_ request: Request, _ context: DeviceRequestContext) async throws -> Response {
        // 500 ids of at most 160 characters, with room for the JSON around them.
        let body = try await request.body.collect(upTo: 128 << 10)
        let fetch: FetchRequest
        do { fetch = try FetchRequest(json: try JSONParser.parse(Array(body.readableBytesView))) } catch let error as ModelError {
            throw APIError.invalid(error)
        }
        _ = try Self.zone(fetch.zone.rawValue, of: context.device)
        let states = try await storage.encodedRecords(ids: Array(Set(fetch.ids)), zone: fetch.zone)
        // The stored states are canonical JSON already: sent as they are.
        var bytes = Array(#"{"records":["#.utf8)
        for (n, state) in states.enumerated() {
            if n > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: state)
        }
        bytes.append(contentsOf: Array("]}".utf8))
        return Response(
            status: .ok, headers: [.contentType: "application/json", .contentLength: String(bytes.count)],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The `"checksums":{…},` member of the pull page that ends a catch-up, or nothing: the digests
    /// of `device`'s zones valid at `cursor`, omitted when a change to them committed after it
    /// (the next pull carries them) or when they cannot be read (a pull never fails for them).
    static func checksumsMember(_ storage: any SyncStorage, device: DeviceRecord, cursor: Int64, more: Bool) async -> [UInt8] {
        guard !more, let sums = try? await storage.zoneChecksums(zones: device.zones, validAt: cursor) else { return [] }
        let members = sums.sorted { $0.key.rawValue < $1.key.rawValue }.map { #""\#($0.key.rawValue)":"\#($0.value.hex)""# }
        return Array(#""checksums":{\#(members.joined(separator: ","))},"#.utf8)
    }
}
