import ButlerClient
import ButlerModel
import Foundation

extension InProcessTransport: IntegrityTransport {
    public func bucketDigests(zone: Zone) async throws -> BucketDigests {
        try BucketDigests(json: try await send(.get, "/v1/digests?zone=\(zone.rawValue)").json())
    }

    public func bucketHashes(zone: Zone, bucket: Int, after: String?) async throws -> BucketHashes {
        var path = "/v1/digests?zone=\(zone.rawValue)&bucket=\(BucketDigests.bucketName(bucket))"
        if let after { path += "&after=\(after.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? after)" }
        return try BucketHashes(json: try await send(.get, path).json())
    }

    public func fetch(_ request: FetchRequest) async throws -> FetchedRecords {
        try FetchedRecords(reply: try await send(.post, "/v1/fetch", json: request.jsonValue.canonicalBytes))
    }

    public func serverTime() async throws -> ServerTime {
        try ServerTime(json: try await send(.get, "/v1/time").json())
    }
}
