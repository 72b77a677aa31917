import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

@Suite("Client store")
struct ClientStoreTests {
    let zone = try! Zone("east-3")

    @Test("migrates an empty database and runs with synchronous = FULL on disk")
    func migration() throws {
        let dir = Scratch("store")
        let store = try makeStore(.disk, in: dir.url, initialized: false)
        #expect(try store.synchronousMode() == 2, "FULL: every commit fsyncs the WAL")
        #expect(try store.isInitialized() == false)
        // Opening the same file again re-runs the migrator harmlessly.
        _ = try ClientStore.open(home: dir.url.appendingPathComponent("home"))
    }

    @Test("edits before init, and a second init, are typed errors", arguments: StoreKind.allCases)
    func initialisation(_ kind: StoreKind) throws {
        let dir = Scratch("store")
        let store = try makeStore(kind, in: dir.url, initialized: false)
        #expect(throws: ClientError(.notInitialized, "this device is not set up: run `butler init --server URL --token TOKEN` first")) {
            try store.createForm(template: "building-patrol", zone: zone, place: "p")
        }
        try store.initialize(name: "李管家", serverURL: "http://127.0.0.1:8080", token: "bt_x")
        do {
            try store.initialize(name: "李管家", serverURL: "http://127.0.0.1:8080", token: "bt_x")
            Issue.record("a second init must fail")
        } catch let error as ClientError {
            #expect(error.code == .alreadyInitialized)
        }
        #expect(throws: ClientError.self) { try ClientStore.inMemory(blobDirectory: dir.url).initialize(name: "x", serverURL: "ftp://x", token: "t") }
    }

    @Test("each edit updates the record and queues its delta together", arguments: StoreKind.allCases)
    func editsQueueDeltas(_ kind: StoreKind) throws {
        let dir = Scratch("store")
        let store = try makeStore(kind, in: dir.url)
        let form = try store.createForm(template: "building-patrol", zone: zone, place: "3号楼 楼梯间")
        try store.setResult(form: form, item: "stairwell-lights", result: .defect, note: "3F 灯不亮")
        try store.addNote(form: form, text: "巡查完毕")
        #expect(try store.status().pendingEdits == 3)
        let view = try store.form(form)
        #expect(view.items["stairwell-lights"]?.result == .defect)
        #expect(view.items["stairwell-lights"]?.notes.first?.author == "李管家")
        #expect(view.notes.map(\.text) == ["巡查完毕"])
    }

    @Test("a refused edit changes nothing: submitted form, unknown item, unknown template", arguments: StoreKind.allCases)
    func refusedEdits(_ kind: StoreKind) throws {
        let dir = Scratch("store")
        let store = try makeStore(kind, in: dir.url)
        let form = try store.createForm(template: "building-patrol", zone: zone, place: "p")
        do {
            try store.setResult(form: form, item: "jacuzzi", result: .ok)
            Issue.record("unknown item accepted")
        } catch let error as ClientError { #expect(error.code.rawValue == "unknown-item") }
        try store.submit(form: form)
        let before = try store.record(form)
        let pending = try store.status().pendingEdits
        do {
            try store.setResult(form: form, item: "tiles", result: .ok)
            Issue.record("edit of a submitted form accepted")
        } catch let error as ClientError { #expect(error.code.rawValue == "form-submitted") }
        #expect(try store.record(form) == before)
        #expect(try store.status().pendingEdits == pending)
        #expect(throws: ClientError.self) { try store.createForm(template: "nope", zone: zone, place: "p") }
    }

    @Test("photos are imported by hash; the same picture twice is stored once", arguments: StoreKind.allCases)
    func photos(_ kind: StoreKind) throws {
        let dir = Scratch("store")
        let store = try makeStore(kind, in: dir.url)
        let form = try store.createForm(template: "building-patrol", zone: zone, place: "p")
        let file = try dir.photo("evidence.jpg", bytes: 3_000_000)
        let sha1 = try store.attachPhoto(form: form, file: file, item: "tiles", caption: "地砖破损")
        let sha2 = try store.attachPhoto(form: form, file: file, item: "tiles")
        #expect(sha1 == sha2)
        let expected = SHA256Hasher.hex(of: [UInt8](try Data(contentsOf: file)))
        #expect(sha1 == expected)
        let blobs = try FileManager.default.contentsOfDirectory(atPath: store.blobDirectory.path).filter { $0 != "tmp" }
        #expect(blobs == [sha1])
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.blobDirectory.appendingPathComponent("tmp").path).isEmpty)
        #expect(try store.status().pendingPhotoBytes == 3_000_000)
        #expect(try store.form(form).items["tiles"]?.photos == [sha1])
        let photo = try Photo(try #require(try store.record(Photo.recordID(sha256: sha1, zone: zone))))
        #expect(photo.bytes == 3_000_000 && photo.mediaType == "image/jpeg" && photo.caption == "地砖破损")
    }

    @Test("a missing photo file is a clear error and stores nothing", arguments: StoreKind.allCases)
    func missingPhotoFile(_ kind: StoreKind) throws {
        let dir = Scratch("store")
        let store = try makeStore(kind, in: dir.url)
        let form = try store.createForm(template: "building-patrol", zone: zone, place: "p")
        let pending = try store.status().pendingEdits
        #expect(throws: ClientError.self) { try store.attachPhoto(form: form, file: dir.url.appendingPathComponent("nope.jpg"), item: "tiles") }
        #expect(try store.status().pendingEdits == pending)
    }

    @Test("a device refuses to create records outside its zones once it knows them")
    func zones() throws {
        let dir = Scratch("store")
        let store = try makeStore(.memory, in: dir.url)
        try store.setDeviceInfo(DeviceInfo(name: "li", role: .butler, zones: [zone]))
        do {
            _ = try store.createForm(template: "building-patrol", zone: Zone("west-1"), place: "p")
            Issue.record("a foreign zone was accepted")
        } catch let error as ClientError { #expect(error.code == .zoneNotAssigned) }
    }

    @Test("work orders and callbacks: one callback record per repair, attempts appended")
    func callbacks() throws {
        let dir = Scratch("store")
        let store = try makeStore(.memory, in: dir.url)
        let order = try store.createWorkOrder(zone: zone, place: "5号楼 301", category: .leak, description: "天花渗水")
        try store.completeWorkOrder(order)
        try store.logCallback(workOrder: order, channel: .phone, reached: false, satisfaction: nil, note: "无人接听")
        try store.logCallback(workOrder: order, channel: .visit, reached: true, satisfaction: .satisfied, note: nil)
        let record = try #require(try store.callbacks(workOrder: order))
        #expect(record.attempts.count == 2)
        #expect(record.outcome == .satisfied)
        #expect(try store.workOrder(order).status == .completed)
    }

    @Test("a callback attempt dated in the future or before the repair's completion is invalid-value and queues nothing")
    func callbackTimes() throws {
        let dir = Scratch("store")
        let store = try makeStore(.memory, in: dir.url)
        let order = try store.createWorkOrder(zone: zone, place: "5号楼 301", category: .leak, description: "天花渗水")
        let started = Date().addingTimeInterval(1)
        let completed = started.addingTimeInterval(240)
        try store.startWorkOrder(order, at: started)
        try store.completeWorkOrder(order, at: completed)
        let pending = try store.status().pendingEdits
        for at in [Date().addingTimeInterval(2 * 3600), completed.addingTimeInterval(-60)] {
            #expect { try store.logCallback(workOrder: order, channel: .phone, reached: true, satisfaction: .satisfied, note: nil, at: at) } throws: {
                ($0 as? ClientError)?.code == .invalidValue
            }
        }
        #expect(try store.status().pendingEdits == pending)
        try store.logCallback(workOrder: order, channel: .phone, reached: true, satisfaction: .satisfied, note: nil, at: completed.addingTimeInterval(60))
        #expect(try store.callbacks(workOrder: order)?.outcome == .satisfied)
    }
}

@Suite("Backoff")
struct BackoffTests {
    @Test("ceilings double up to the cap; jittered delays stay within them")
    func backoff() {
        let backoff = Backoff(base: .seconds(1), cap: .seconds(60))
        #expect(backoff.ceiling(attempt: 0) == .seconds(1))
        #expect(backoff.ceiling(attempt: 3) == .seconds(8))
        #expect(backoff.ceiling(attempt: 10) == .seconds(60))
        #expect(backoff.ceiling(attempt: 1_000) == .seconds(60))
        var rng = SystemRandomNumberGenerator()
        var seen = Set<Duration>()
        for attempt in 0..<12 {
            for _ in 0..<50 {
                let d = backoff.delay(attempt: attempt, using: &rng)
                #expect(d >= .zero && d <= backoff.ceiling(attempt: attempt))
                seen.insert(d)
            }
        }
        #expect(seen.count > 100, "full jitter spreads the waits")
    }
}

@Suite("Client store encrypted at rest")
struct AtRestTests {
    @Test("with a device key, residents' data never reaches the SQLite file in clear; the wrong key or no key is refused")
    func encryptedAtRest() throws {
        let dir = Scratch("store")
        let keyFile = dir.url.appendingPathComponent("device.key")
        let key = try AtRestKey.create(file: keyFile)
        #expect((try FileManager.default.attributesOfItem(atPath: keyFile.path)[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let home = dir.url.appendingPathComponent("home")
        let secret = "住户王女士 13800138000 养狗 投诉三次"
        do {
            let store = try ClientStore.open(home: home, atRest: key)
            try store.initialize(name: "李管家", serverURL: "http://127.0.0.1:9", token: "bt_x")
            let form = try store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "5号楼 301")
            try store.addNote(form: form, item: "tiles", text: secret)
            #expect(try store.form(form).items["tiles"]?.notes.first?.text == secret)
        }
        // Nothing of the note is in the database files, in any encoding the JSON could take.
        var onDisk = Data()
        for name in try FileManager.default.contentsOfDirectory(atPath: home.path) where name.hasPrefix(ClientStore.databaseFileName) {
            onDisk.append(try Data(contentsOf: home.appendingPathComponent(name)))
        }
        #expect(onDisk.count > 0)
        #expect(onDisk.range(of: Data("13800138000".utf8)) == nil)
        #expect(onDisk.range(of: Data("5号楼".utf8)) == nil)
        // Reopening needs the same key.
        let reopened = try ClientStore.open(home: home, atRest: try AtRestKey(file: keyFile))
        #expect(try reopened.forms().first?.items["tiles"]?.notes.first?.text == secret)
        do {
            _ = try ClientStore.open(home: home)
            Issue.record("an encrypted store opened without its key")
        } catch let error as ClientError { #expect(error.code.rawValue == "key-required") }
        let other = try AtRestKey.create(file: dir.url.appendingPathComponent("other.key"))
        do {
            _ = try ClientStore.open(home: home, atRest: other)
            Issue.record("an encrypted store opened with another key")
        } catch let error as ClientError { #expect(error.code.rawValue == "wrong-key") }
    }

    @Test("a key cannot be added to a store that already holds plaintext records")
    func noMixing() throws {
        let dir = Scratch("store")
        let home = dir.url.appendingPathComponent("home")
        let store = try ClientStore.open(home: home)
        try store.initialize(name: "李管家", serverURL: "http://127.0.0.1:9", token: "bt_x")
        _ = try store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "p")
        let key = try AtRestKey.create(file: dir.url.appendingPathComponent("k"))
        do {
            _ = try ClientStore.open(home: home, atRest: key)
            Issue.record("a plaintext store accepted a key")
        } catch let error as ClientError { #expect(error.code.rawValue == "store-not-encrypted") }
    }
}
