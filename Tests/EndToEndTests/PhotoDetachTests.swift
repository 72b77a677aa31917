import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// Detaching evidence photos (issue 13): a detach removes what its author saw, a re-attach made
/// concurrently keeps the photo, and a butler cannot detach a colleague's photo.
@Suite("Photos: detach, and re-attach concurrent with a detach")
struct PhotoDetachTests {
    let zone = try! Zone("east-3")

    @Test("Li detaches a photo offline while Wang attaches it again offline: after both sync the photo stays everywhere, nothing refused", arguments: Backend.available)
    func reattachWins(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "detach") { cluster in
            let li = try await cluster.handheld("li", displayName: "李管家")
            let wang = try await cluster.handheld("wang", displayName: "王管家")
            let form = try li.store.createForm(template: "building-patrol", zone: zone, place: "3号楼2单元 楼梯间")
            let photo = try cluster.scratch.photo("corridor.jpg", bytes: 40_000)
            let sha = try li.store.attachPhoto(form: form, file: photo, item: "stairwell-lights")
            _ = try await li.engine.sync()
            _ = try await wang.engine.sync()
            #expect(try wang.store.form(form).items["stairwell-lights"]?.photos == [sha])

            // Offline, at the same time: Li takes the photo off, Wang attaches the same photo again.
            try li.store.detachPhoto(form: form, sha256: sha, item: "stairwell-lights")
            #expect(try li.store.form(form).items["stairwell-lights"]?.photos ?? [] == [])
            _ = try wang.store.attachPhoto(form: form, file: photo, item: "stairwell-lights")
            #expect(try wang.store.status().pendingEdits > 0, "a re-attach of a photo already shown is an edit of its own")

            for _ in 0..<2 {
                #expect(try await li.engine.sync().refused == 0)
                #expect(try await wang.engine.sync().refused == 0)
            }
            #expect(try li.store.form(form).items["stairwell-lights"]?.photos == [sha])
            #expect(try wang.store.form(form).items["stairwell-lights"]?.photos == [sha])
            #expect(try li.store.allRecords().map(\.contentHash) == wang.store.allRecords().map(\.contentHash))

            // The attach that stands is now Wang's: his detach, once he has seen everything, removes
            // the photo everywhere (Li's own would be refused: the attach is no longer hers).
            try wang.store.detachPhoto(form: form, sha256: sha)
            _ = try await wang.engine.sync()
            _ = try await li.engine.sync()
            #expect(try li.store.form(form).items["stairwell-lights"]?.photos ?? [] == [])
            #expect(try li.store.refusedEdits().isEmpty && wang.store.refusedEdits().isEmpty)
        }
    }

    @Test("a butler's detach of a colleague's photo is refused by the server and listed; the photo stays", arguments: Backend.available)
    func colleaguesPhoto(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "detach-other") { cluster in
            let li = try await cluster.handheld("li", displayName: "李管家")
            let wang = try await cluster.handheld("wang", displayName: "王管家")
            let form = try li.store.createForm(template: "building-patrol", zone: zone, place: "5号楼 地下车库")
            let sha = try li.store.attachPhoto(form: form, file: try cluster.scratch.photo("leak.jpg", bytes: 30_000), item: "fire-door")
            _ = try await li.engine.sync()
            _ = try await wang.engine.sync()
            try wang.store.detachPhoto(form: form, sha256: sha, item: "fire-door")
            let report = try await wang.engine.sync()
            #expect(report.refused >= 1)
            #expect(try wang.store.refusedEdits().map(\.code).allSatisfy { $0 == "role-forbidden" })
            _ = try await li.engine.sync()
            #expect(try li.store.form(form).items["fire-door"]?.photos == [sha])
        }
    }

    @Test("detaching a photo that is not attached, or from an unknown item, is a clear error and writes nothing")
    func badDetach() async throws {
        try await Cluster.inProcess(.sqlite, "detach-bad") { cluster in
            let li = try await cluster.handheld("li", displayName: "李管家")
            let form = try li.store.createForm(template: "building-patrol", zone: zone, place: "1号楼")
            let sha = try li.store.attachPhoto(form: form, file: try cluster.scratch.photo("a.jpg", bytes: 1_000), item: "fire-door")
            let pending = try li.store.status().pendingEdits
            #expect { try li.store.detachPhoto(form: form, sha256: sha, item: "stairwell-lights") } throws: { ($0 as? ClientError)?.code == .invalidValue }
            #expect { try li.store.detachPhoto(form: form, sha256: sha, item: "no-such-item") } throws: { ($0 as? ClientError)?.code == .unknownItem }
            #expect { try li.store.detachPhoto(form: form, sha256: "abc") } throws: { ($0 as? ClientError)?.code == .invalidArgument }
            #expect(try li.store.status().pendingEdits == pending)
        }
    }
}
