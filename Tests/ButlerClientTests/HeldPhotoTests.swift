@testable import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// A photo whose record the server held back or refused is not uploaded alone (the server would
/// count it as unreferenced and expire it, and the device would never send it again).
@Suite("Client store: photos wait for their record")
struct HeldPhotoTests {
    @Test("a photo waits while its record is held, and goes once the record is accepted", arguments: StoreKind.allCases)
    func waits(_ kind: StoreKind) throws {
        let dir = Scratch("store")
        let store = try makeStore(kind, in: dir.url)
        let zone = try Zone("east-3")
        try store.setDeviceInfo(DeviceInfo(name: "li", role: .butler, zones: [zone]))
        let form = try store.createForm(template: "building-patrol", zone: zone, place: "3号楼 楼梯间")
        let sha = try store.attachPhoto(form: form, file: try dir.photo("door.jpg", bytes: 2048), item: "fire-door")
        #expect(try store.pendingUploads().map(\.sha256) == [sha])
        // Push one delta at a time; the server holds the photo record back (its clock check).
        var held = false
        for _ in 0..<10 {
            let groups = try store.pendingGroups(maxDeltas: 1, maxBytes: 1 << 20)
            guard let group = groups.first else { break }
            let isPhoto = group.delta.type == .photo
            _ = try store.acknowledge(groups, RefusalTests.answer(groups, [isPhoto ? (.refused, "clock-ahead") : (.accepted, nil)]))
            if isPhoto { held = true }
        }
        #expect(held)
        #expect(try store.pendingUploads().isEmpty, "the photo waits for its record")
        // Next sync: the record is accepted, and the photo goes.
        let again = try store.pendingGroups(maxDeltas: 10, maxBytes: 1 << 20)
        _ = try store.acknowledge(again, RefusalTests.answer(again, again.map { _ in (.accepted, nil) }))
        #expect(try store.pendingUploads().map(\.sha256) == [sha])
    }
}
