import ButlerModel
import Foundation

/// What a transport adds so a device can check that it holds what the server holds, and repair
/// only what differs (`Protocol/SYNC.md` §8.3): a capability beside ``SyncTransport``, so a
/// transport that lacks it still syncs (the device then reports its zones' checksums `unknown`).
public protocol IntegrityTransport: Sendable {
    /// `GET /v1/digests?zone=Z`: the digest of each non-empty bucket of a zone.
    func bucketDigests(zone: Zone) async throws -> BucketDigests
    /// `GET /v1/digests?zone=Z&bucket=B&after=ID`: one page of a bucket's `(id, hash)` list.
    func bucketHashes(zone: Zone, bucket: Int, after: String?) async throws -> BucketHashes
    /// `POST /v1/fetch`: the server's states of the named records of a zone (those it holds).
    func fetch(_ request: FetchRequest) async throws -> FetchedRecords
    /// `GET /v1/time`: the server's clock and protocol versions.
    func serverTime() async throws -> ServerTime
}

/// The reply to `POST /v1/fetch`: the states read, and the ids of those this build cannot read.
public struct FetchedRecords: Sendable {
    public let records: [RecordState]
    public let unreadable: [String]

    /// Reads the reply body: `{"records": [<state>, …]}`; a state this build cannot accept is set
    /// aside by id, never the reply.
    public init(reply: ServerReply) throws {
        let json = try reply.json()
        let r = try ClientError.mapping("the server's fetch reply is not valid") { try JSONObjectReader(json, path: "fetch") }
        var records: [RecordState] = []
        var unreadable: [String] = []
        for element in try ClientError.mapping("the server's fetch reply is not valid", { try r.array("records") }) {
            do { records.append(try RecordState(json: element)) } catch { unreadable.append(element["id"]?.stringValue ?? "?") }
        }
        self.records = records
        self.unreadable = unreadable
    }
}

extension ServerReply {
    func decoded<T>(_ what: String, _ decode: (JSONValue) throws -> T) throws -> T {
        let json = try self.json()
        do { return try decode(json) } catch {
            throw ClientError(.badResponse, "the server's \(what) is not valid: \(error)")
        }
    }
}

extension CurlTransport: IntegrityTransport {
    public func bucketDigests(zone: Zone) async throws -> BucketDigests {
        let response = try await perform(Request(method: .get, path: "/v1/digests?zone=\(zone.rawValue)", timeout: configuration.requestTimeout))
        return try response.reply.decoded("digests", BucketDigests.init(json:))
    }

    public func bucketHashes(zone: Zone, bucket: Int, after: String?) async throws -> BucketHashes {
        var path = "/v1/digests?zone=\(zone.rawValue)&bucket=\(BucketDigests.bucketName(bucket))"
        if let after { path += "&after=\(Self.escape(after))" }
        let response = try await perform(Request(method: .get, path: path, timeout: configuration.requestTimeout))
        return try response.reply.decoded("bucket listing", BucketHashes.init(json:))
    }

    public func fetch(_ request: FetchRequest) async throws -> FetchedRecords {
        let response = try await perform(
            Request(
                method: .post, path: "/v1/fetch", headers: ["Content-Type: application/json"], upload: .data(Data(request.jsonValue.canonicalBytes)),
                timeout: configuration.requestTimeout))
        return try FetchedRecords(reply: response.reply)
    }

    public func serverTime() async throws -> ServerTime {
        let response = try await perform(Request(method: .get, path: "/v1/time", timeout: configuration.requestTimeout))
        return try response.reply.decoded("time", ServerTime.init(json:))
    }
}
