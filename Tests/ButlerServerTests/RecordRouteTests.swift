import ButlerModel
import ButlerServer
import ButlerTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// `GET /v1/records/{id}` (issue 11): what a device rebuilds a record from after discarding a
/// refused edit — the stored state as it is, and nothing outside the device's zones.
@Suite("Server router: one record")
struct RecordRouteTests {
    typealias F = ServerFixture

    @Test("the stored canonical state with 200; unknown-record 404; zone-forbidden 403; a malformed id 400", arguments: Backend.available)
    func record(_ backend: Backend) async throws {
        try await ServerFixture.with(backend) { f in
            try await f.app().test(.router) { client in
                let form = Deltas.form()
                let pushed = try PushResponse(
                    json: F.json(try await client.execute(uri: "/v1/push", method: .post, headers: f.headers("li"), body: F.body(Deltas.push([form])))))
                #expect(pushed.results.map(\.status) == [.accepted])

                let found = try await client.execute(uri: "/v1/records/form-1", method: .get, headers: f.headers("wang"))
                #expect(found.status == .ok)
                #expect(Array(found.body.readableBytesView) == form.canonicalJSON, "the stored canonical bytes, as a pull page carries them")
                #expect(try JSONParser.parseRecordState(Array(found.body.readableBytesView)) == form)

                let missing = try await client.execute(uri: "/v1/records/form-nope", method: .get, headers: f.headers("li"))
                #expect(missing.status == .notFound)
                #expect(try F.json(missing)["code"] == "unknown-record")

                let outside = try await client.execute(uri: "/v1/records/form-1", method: .get, headers: f.headers("chen"))
                #expect(outside.status == .forbidden)
                #expect(try F.json(outside)["code"] == "zone-forbidden")
                #expect(try F.json(outside)["message"]?.stringValue?.contains("east-3") == true)

                let malformed = try await client.execute(uri: "/v1/records/a%20b", method: .get, headers: f.headers("li"))
                #expect(malformed.status == .badRequest)
                #expect(try F.json(malformed)["code"] == "invalid-value")

                let anonymous = try await client.execute(uri: "/v1/records/form-1", method: .get, headers: f.headers(nil))
                #expect(anonymous.status == .unauthorized)
            }
        }
    }
}
