import ButlerModel
import Foundation
import Hummingbird
import NIOCore

/// `/v1/records/{id}`: the server's current state of one record, as stored (canonical JSON).
///
/// What a device needs to undo an edit it discarded after a refusal: it rebuilds its copy as this
/// state joined with its own remaining edits. A record outside the caller's zones is refused
/// (`zone-forbidden`) — the same rule as the change feed, so this reveals nothing a pull would not.
struct RecordRoutes {
    let storage: any SyncStorage

    func register(on group: RouterGroup<DeviceRequestContext>) {
        group.get("records/{id}") { _, context in try await record(context) }
    }

    func record(_ context: DeviceRequestContext) async throws -> Response {
        let device = context.device
        let id: RecordID
        do { id = try RecordID(try context.parameters.require("id")) } catch let error as ModelError {
            throw APIError.invalid(error)
        }
        guard let bytes = try await storage.encodedRecord(id: id) else {
            throw APIError(.notFound, .unknownRecord, "the server holds no record \(id)")
        }
        let zone: Zone
        do { zone = try JSONParser.parseRecordState(bytes).zone } catch let error as ModelError {
            throw APIError(.conflict, .storedRecordUnreadable, "the stored record \(id) cannot be read (\(error.message)); `butler-server check` reports it")
        }
        guard device.zones.contains(zone) else {
            throw APIError(.forbidden, .zoneForbidden, "device \(device.name) may not read zone \(zone)")
        }
        return Response(
            status: .ok, headers: [.contentType: "application/json", .contentLength: String(bytes.count)],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
