import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Synchronization
import Hummingbird
import HummingbirdTesting
import Testing

@testable import ButlerUI

/// The handheld page's routes over a real on-disk store, through Hummingbird's router test client.
@Suite struct HandheldRouteTests {
    /// An initialised store in a scratch folder (zone east-3 known, a server nobody answers on).
    struct Fixture {
        let scratch = Scratch("ui-routes")
        let store: ClientStore
        var home: URL { scratch.path("home") }

        init() throws {
            store = try ClientStore.open(home: scratch.path("home"))
            try store.initialize(name: "李管家", serverURL: "http://127.0.0.1:9", token: "bt_test", replica: ReplicaID("li-handheld"))
            try store.setDeviceInfo(DeviceInfo(name: "李管家", role: .butler, zones: [try Zone("east-3")]))
        }

        func test(
            makeEngine: (@Sendable () throws -> SyncEngine)? = nil, _ body: @Sendable (any TestClientProtocol) async throws -> Void
        ) async throws {
            let app = try await buildHandheldApplication(
                store: store, configuration: HandheldConfiguration(port: 0, maxBodyBytes: 64 * 1024), makeEngine: makeEngine)
            try await app.test(.router, body)
        }

        /// A second store on the same files: what is on disk, not what one connection holds.
        func reopened() throws -> ClientStore { try ClientStore.open(home: home) }
    }

    static func text(_ response: TestResponse) -> String { String(buffer: response.body) }

    /// The form token a page carries, read back as a browser would.
    static func token(_ client: some TestClientProtocol) async throws -> String {
        let page = text(try await client.execute(uri: "/forms/new", method: .get))
        let marker = "name=\"csrf\" value=\""
        let start = try #require(page.range(of: marker)).upperBound
        return String(page[start...].prefix { $0 != "\"" })
    }

    static func form(_ fields: [String: String]) -> ByteBuffer {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = fields.sorted { $0.key < $1.key }.map {
            "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)"
        }.joined(separator: "&")
        return ByteBuffer(string: body)
    }

    static let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    @Test func everyPageRenders() async throws {
        let f = try Fixture()
        let form = try f.store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "3号楼2单元 楼梯间")
        let order = try f.store.createWorkOrder(zone: Zone("east-3"), place: "5号楼 1203", category: .general, description: "厨房水龙头漏水")
        try f.store.completeWorkOrder(order)
        try await f.test { client in
            let today = Self.text(try await client.execute(uri: "/", method: .get))
            #expect(today.contains("今日"))
            #expect(today.contains("3号楼2单元 楼梯间"))
            #expect(today.contains("/forms/\(form.rawValue)"))
            #expect(today.contains("/workorders/\(order.rawValue)/callback"))
            #expect(today.contains("草稿"))
            let new = try await client.execute(uri: "/forms/new", method: .get)
            #expect(new.status == .ok)
            #expect(Self.text(new).contains("楼宇巡查"))
            #expect(Self.text(new).contains("<option value=\"east-3\">"))
            let page = try await client.execute(uri: "/forms/\(form.rawValue)", method: .get)
            #expect(page.status == .ok)
            #expect(page.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
            let html = Self.text(page)
            #expect(html.contains("楼宇巡查"))
            #expect(html.contains("id=\"item-stairwell-lights\""))
            #expect(html.contains("capture=\"environment\""))
            #expect(html.contains("草稿"))
            let callback = Self.text(try await client.execute(uri: "/workorders/\(order.rawValue)/callback", method: .get))
            #expect(callback.contains("厨房水龙头漏水"))
            #expect(callback.contains("待回访"))
            let sync = Self.text(try await client.execute(uri: "/sync", method: .get))
            #expect(sync.contains("立即同步"))
            #expect(sync.contains("从未同步"))
        }
    }

    @Test func todayListsDraftsFirstAndAtMostThirtyForms() async throws {
        let f = try Fixture()
        for index in 0..<32 {
            let form = try f.store.createForm(template: "public-area", zone: Zone("east-3"), place: "花园 \(index)")
            try f.store.submit(form: form)
        }
        let draft = try f.store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "3号楼 楼梯间")
        try await f.test { client in
            let today = Self.text(try await client.execute(uri: "/", method: .get))
            let forms = try #require(today.range(of: "id=\"forms\"")).upperBound
            let list = today[forms...]
            #expect(list.components(separatedBy: "<li><a href=\"/forms/").count - 1 == HandheldRoutes.formsListed)
            let first = try #require(list.range(of: "<li><a href=\"/forms/")).upperBound
            #expect(list[first...].hasPrefix(draft.rawValue))
            #expect(today.contains("另有 3 张较早的巡查表未列出"))
        }
    }

    @Test func aPostWithoutTheTokenIsRefusedAndChangesNothing() async throws {
        let f = try Fixture()
        let form = try f.store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "3号楼 楼梯间")
        let before = try f.store.status().pendingEdits
        try await f.test { client in
            let token = try await Self.token(client)
            let uri = "/forms/\(form.rawValue)/items/stairwell-lights"
            var attempts: [(HTTPFields, [String: String])] = [
                (Self.formHeaders, ["result": "defect"]),
                (Self.formHeaders, ["result": "defect", "csrf": String(repeating: "0", count: token.count)]),
            ]
            var crossSite = Self.formHeaders
            crossSite[HTTPFields.Element.Name("Sec-Fetch-Site")!] = "cross-site"
            attempts.append((crossSite, ["result": "defect", "csrf": token]))
            var foreign = Self.formHeaders
            foreign[.origin] = "http://evil.example"
            attempts.append((foreign, ["result": "defect", "csrf": token]))
            for (headers, fields) in attempts {
                let response = try await client.execute(uri: uri, method: .post, headers: headers, body: Self.form(fields))
                #expect(response.status == .forbidden)
                #expect(Self.text(response).contains("未做任何修改"))
            }
            let photo = try await client.execute(
                uri: "/forms/\(form.rawValue)/photos", method: .post,
                headers: [.contentType: "multipart/form-data; boundary=XyZ"],
                body: ByteBuffer(string: "--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.jpg\"\r\n\r\nJPEG\r\n--XyZ--\r\n"))
            #expect(photo.status == .forbidden)
            let sync = try await client.execute(uri: "/sync", method: .post, headers: Self.formHeaders, body: Self.form([:]))
            #expect(sync.status == .forbidden)
            // Our own origin with the token passes.
            var own = Self.formHeaders
            own[.origin] = "http://localhost"
            own[HTTPFields.Element.Name("Sec-Fetch-Site")!] = "same-origin"
            let accepted = try await client.execute(uri: uri, method: .post, headers: own, body: Self.form(["result": "ok", "csrf": token]))
            #expect(accepted.status == .seeOther)
        }
        let after = try f.reopened()
        #expect(try after.form(form).items["stairwell-lights"]?.result == .ok)
        #expect(try after.form(form).items["stairwell-lights"]?.photos.isEmpty ?? true)
        #expect(try after.status().pendingEdits == before + 1)
    }

    @Test func aRequestNamingAnotherHostIsRefused() throws {
        let guardian = RequestGuard(token: "t")
        func request(_ authority: String) -> Request {
            Request(head: HTTPRequest(method: .get, scheme: "http", authority: authority, path: "/"), body: .init(buffer: ByteBuffer()))
        }
        #expect(throws: PageError.self) { try guardian.checkHost(request("evil.example:8765")) }
        #expect(throws: PageError.self) { try guardian.checkHost(request("127.0.0.1.evil.example")) }
        try guardian.checkHost(request("127.0.0.1:8765"))
        try guardian.checkHost(request("localhost:8765"))
        try guardian.checkHost(request("[::1]:8765"))
    }

    @Test func aResultIsOnDiskBeforeTheRedirect() async throws {
        let f = try Fixture()
        let form = try f.store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "3号楼 楼梯间")
        let home = f.home
        try await f.test { client in
            let token = try await Self.token(client)
            let response = try await client.execute(
                uri: "/forms/\(form.rawValue)/items/stairwell-lights", method: .post, headers: Self.formHeaders,
                body: Self.form(["result": "defect", "note": "3F 走廊灯不亮", "csrf": token]))
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/forms/\(form.rawValue)#item-stairwell-lights")
            // Read through a store opened afresh on the same files, while the page still runs.
            let item = try ClientStore.open(home: home).form(form).items["stairwell-lights"]
            #expect(item?.result == .defect)
            #expect(item?.notes.map(\.text) == ["3F 走廊灯不亮"])
            let page = Self.text(try await client.execute(uri: "/forms/\(form.rawValue)", method: .get))
            #expect(page.contains("3F 走廊灯不亮"))
            #expect(page.contains("class=\"defect on\""))
        }
    }

    @Test func newFormNoteCallbackAndSubmitGoThroughTheStore() async throws {
        let f = try Fixture()
        let order = try f.store.createWorkOrder(zone: Zone("east-3"), place: "5号楼 1203", category: .general, description: "漏水")
        try f.store.completeWorkOrder(order)
        try await f.test { client in
            let token = try await Self.token(client)
            let created = try await client.execute(
                uri: "/forms", method: .post, headers: Self.formHeaders,
                body: Self.form(["template": "building-patrol", "zone": "east-3", "place": "7号楼 天台", "csrf": token]))
            #expect(created.status == .seeOther)
            let location = try #require(created.headers[.location])
            let id = try RecordID(String(location.dropFirst("/forms/".count)))
            let note = try await client.execute(
                uri: "/forms/\(id.rawValue)/notes", method: .post, headers: Self.formHeaders, body: Self.form(["text": "天台门已上锁", "csrf": token]))
            #expect(note.status == .seeOther)
            let submitted = try await client.execute(uri: "/forms/\(id.rawValue)/submit", method: .post, headers: Self.formHeaders, body: Self.form(["csrf": token]))
            #expect(submitted.status == .seeOther)
            let page = Self.text(try await client.execute(uri: location, method: .get))
            #expect(page.contains("已提交"))
            #expect(!page.contains("id=\"submit-form\""))
            let logged = try await client.execute(
                uri: "/workorders/\(order.rawValue)/callbacks", method: .post, headers: Self.formHeaders,
                body: Self.form(["channel": "phone", "reached": "yes", "satisfaction": "satisfied", "note": "住户满意", "csrf": token]))
            #expect(logged.status == .seeOther)
            let store = try f.reopened()
            let view = try store.form(id)
            #expect(view.template == "building-patrol")
            #expect(view.place == "7号楼 天台")
            #expect(view.status.state == .submitted)
            #expect(view.notes.map(\.text) == ["天台门已上锁"])
            let attempts = try #require(try store.callbacks(workOrder: order)).attempts
            #expect(attempts.map(\.note) == ["住户满意"])
            #expect(attempts.first?.satisfaction == .satisfied)
        }
    }

    @Test func badInputShowsTheStoresMessageAndChangesNothing() async throws {
        let f = try Fixture()
        let form = try f.store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "3号楼 楼梯间")
        let locked = try f.store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "4号楼")
        try f.store.submit(form: locked)
        let before = try f.store.status().pendingEdits
        try await f.test { client in
            let token = try await Self.token(client)
            let unknown = try await client.execute(uri: "/forms/form-0000000000000000", method: .get)
            #expect(unknown.status == .notFound)
            #expect(Self.text(unknown).contains("id=\"error-message\""))
            let nowhere = try await client.execute(uri: "/no/such/page", method: .get)
            #expect(nowhere.status == .notFound)
            let item = try await client.execute(
                uri: "/forms/\(form.rawValue)/items/no-such-item", method: .post, headers: Self.formHeaders,
                body: Self.form(["result": "ok", "csrf": token]))
            #expect(item.status == .badRequest)
            #expect(Self.text(item).contains("no-such-item"))
            let edit = try await client.execute(
                uri: "/forms/\(locked.rawValue)/items/stairwell-lights", method: .post, headers: Self.formHeaders,
                body: Self.form(["result": "defect", "csrf": token]))
            #expect(edit.status == .conflict)
            let result = try await client.execute(
                uri: "/forms/\(form.rawValue)/items/stairwell-lights", method: .post, headers: Self.formHeaders,
                body: Self.form(["result": "broken", "csrf": token]))
            #expect(result.status == .badRequest)
            let zone = try await client.execute(
                uri: "/forms", method: .post, headers: Self.formHeaders,
                body: Self.form(["template": "no-such-template", "zone": "east-3", "place": "x", "csrf": token]))
            #expect(zone.status == .badRequest)
            // A photo over the page's limit (64 KiB here) is refused before it is stored.
            let big = String(repeating: "x", count: 70 * 1024)
            let photo = try await client.execute(
                uri: "/forms/\(form.rawValue)/photos", method: .post, headers: [.contentType: "multipart/form-data; boundary=XyZ"],
                body: ByteBuffer(string: "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n\(token)\r\n--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.jpg\"\r\n\r\n\(big)\r\n--XyZ--\r\n"))
            #expect(photo.status == .contentTooLarge)
            #expect(Self.text(photo).contains("文件太大"))
        }
        let store = try f.reopened()
        #expect(try store.status().pendingEdits == before)
        #expect(try store.form(form).items.values.allSatisfy { $0.result == nil && $0.photos.isEmpty })
        #expect(try store.form(locked).items["stairwell-lights"]?.result == nil)
    }

    @Test func aPhotoUploadIsAttachedToItsItem() async throws {
        let f = try Fixture()
        let form = try f.store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "3号楼 楼梯间")
        let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0] + Array("a photo of a dark stairwell".utf8) + [0xFF, 0xD9]
        try await f.test { client in
            let token = try await Self.token(client)
            var body = ByteBuffer(string: "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n\(token)\r\n")
            body.writeString("--XyZ\r\nContent-Disposition: form-data; name=\"item\"\r\n\r\nstairwell-lights\r\n")
            body.writeString("--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"IMG_0412.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n")
            body.writeBytes(jpeg)
            body.writeString("\r\n--XyZ--\r\n")
            let response = try await client.execute(
                uri: "/forms/\(form.rawValue)/photos", method: .post, headers: [.contentType: "multipart/form-data; boundary=XyZ"], body: body)
            #expect(response.status == .seeOther)
            let sha = try #require(try f.reopened().form(form).items["stairwell-lights"]?.photos.first)
            #expect(try Data(contentsOf: f.store.blobURL(sha)) == Data(jpeg))
            let image = try await client.execute(uri: "/photos/\(sha)", method: .get)
            #expect(image.headers[.contentType] == "image/jpeg")
            #expect(image.headers[HTTPFields.Element.Name("Cross-Origin-Resource-Policy")!] == "same-origin")
            #expect(Array(buffer: image.body) == jpeg)
            #expect(try await client.execute(uri: "/photos/../../etc/passwd", method: .get).status == .notFound)
            // Not an image: refused, nothing kept.
            var text = ByteBuffer(string: "--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n\(token)\r\n")
            text.writeString("--XyZ\r\nContent-Disposition: form-data; name=\"item\"\r\n\r\nwater-meter\r\n")
            text.writeString("--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"notes.jpg\"\r\n\r\nnot a picture\r\n--XyZ--\r\n")
            let refused = try await client.execute(
                uri: "/forms/\(form.rawValue)/photos", method: .post, headers: [.contentType: "multipart/form-data; boundary=XyZ"], body: text)
            #expect(refused.status == .unsupportedMediaType)
            #expect(Self.text(refused).contains("只能上传照片"))
            #expect(try f.reopened().form(form).items["water-meter"]?.photos.isEmpty ?? true)
        }
    }

    @Test func syncNowWithoutAServerSaysOffline() async throws {
        let f = try Fixture()
        _ = try f.store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "3号楼 楼梯间")
        let store = f.store
        let offPool = Mutex<Bool?>(nil)
        try await f.test(makeEngine: {
            // The real engine as `butler ui` makes it, opened where the sync runs: off the cooperative pool.
            offPool.withLock { $0 = SyncExecutor.isCurrent }
            return try SyncEngine.forStore(store)
        }) { client in
            let token = try await Self.token(client)
            let started = try await client.execute(uri: "/sync", method: .post, headers: Self.formHeaders, body: Self.form(["csrf": token]))
            #expect(started.status == .seeOther)
            var status = ""
            for _ in 0..<200 {
                status = Self.text(try await client.execute(uri: "/sync/status", method: .get))
                if status.contains("\"running\":false") { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(status.contains("\"code\":\"unreachable\""))
            let page = Self.text(try await client.execute(uri: "/sync", method: .get))
            #expect(page.contains("离线"))
            #expect(page.contains("id=\"last-error\""))
        }
        #expect(try f.reopened().status().pendingEdits == 1)
        #expect(offPool.withLock { $0 } == true)
    }
}
