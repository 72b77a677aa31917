import ButlerModel
@testable import ButlerServer
import ButlerTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// The console through the real router on both backends: every page is a claim the server checks
/// (session cookie, CSRF token, zone), and a refusal changes nothing.
@Suite("Supervisor console routes")
struct ConsoleRouteTests {
    typealias F = ServerFixture
    static let t0: Int64 = 1_795_000_000_000
    static let password = "correct horse battery"

    /// A fixture with console users zhou (east-3, east-4) and chen-sup (west-1), li's submitted
    /// form-1 in east-3 and chen's submitted form-w in west-1.
    func withConsole(
        _ backend: Backend, clock: MovableClock = MovableClock(ServerFixture.now),
        _ body: @Sendable @escaping (ServerFixture, any TestClientProtocol) async throws -> Void
    ) async throws {
        try await ServerFixture.with(backend, configure: { $0.clock = clock }) { f in
            let accounts = try ConsoleAccounts(storage: f.storage, cost: .fast)
            try await accounts.add(name: "zhou", zones: [try Zone("east-3"), try Zone("east-4")], password: Self.password)
            try await accounts.add(name: "chen-sup", zones: [try Zone("west-1")], password: Self.password)
            try await f.app().test(.router) { client in
                var form = Deltas.form()
                let submit = try InspectionForm.submit(&form, stamp: Deltas.stamp("li-dev", Self.t0 + 10))
                #expect(try await f.push(client, as: "li", [Deltas.form(), submit]).map(\.status) == [.accepted, .accepted])
                var west = Deltas.form("form-w", zone: try Zone("west-1"), by: "chen-dev")
                let created = west
                let submitWest = try InspectionForm.submit(&west, stamp: Deltas.stamp("chen-dev", Self.t0 + 10))
                #expect(try await f.push(client, as: "chen", [created, submitWest]).map(\.status) == [.accepted, .accepted])
                try await body(f, client)
            }
        }
    }

    static func formBody(_ fields: [(String, String)]) -> ByteBuffer {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return ByteBuffer(string: fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&"))
    }

    static let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    /// Signs in; returns the session cookie's value.
    static func signIn(_ client: some TestClientProtocol, _ name: String = "zhou", password: String = password) async throws -> String? {
        let response = try await client.execute(
            uri: "/console/login", method: .post, headers: formHeaders, body: formBody([("name", name), ("password", password)]))
        guard response.status == .seeOther, let setCookie = response.headers[.setCookie] else { return nil }
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && setCookie.contains("Path=/console"))
        return setCookie.split(separator: ";").first.map { String($0.split(separator: "=", maxSplits: 1)[1]) }
    }

    static func cookie(_ session: String?) -> HTTPFields {
        var fields = HTTPFields()
        if let session { fields[.cookie] = "\(ConsoleSessions.cookieName)=\(session)" }
        return fields
    }

    static func get(_ client: some TestClientProtocol, _ uri: String, session: String?) async throws -> TestResponse {
        try await client.execute(uri: uri, method: .get, headers: cookie(session))
    }

    static func post(_ client: some TestClientProtocol, _ uri: String, session: String?, _ fields: [(String, String)], extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers = cookie(session)
        headers.append(contentsOf: formHeaders)
        headers.append(contentsOf: extra)
        return try await client.execute(uri: uri, method: .post, headers: headers, body: formBody(fields))
    }

    static func csrf(_ client: some TestClientProtocol, session: String) async throws -> String {
        let page = String(buffer: try await get(client, "/console", session: session).body)
        let marker = "name=\"csrf\" value=\""
        let start = try #require(page.range(of: marker)).upperBound
        return String(page[start...].prefix(64))
    }

    static func status(_ f: ServerFixture, _ id: String = "form-1") async throws -> FormStatus {
        let bytes = try #require(try await f.storage.encodedRecord(id: RecordID(id)))
        return try InspectionForm(JSONParser.parseRecordState(bytes)).status
    }

    static let pages = ["/console", "/console/login", "/console/forms/form-1", "/console/overdue", "/console/devices", "/console/records/form-1",
                        "/console/photos/" + String(repeating: "a", count: 64)]
    static let posts = ["/console/forms/form-1/review", "/console/forms/form-1/close", "/console/logout", "/console/devices/revoke"]

    @Test("without a session every page redirects to the sign-in page", arguments: Backend.available)
    func redirects(_ backend: Backend) async throws {
        try await withConsole(backend) { _, client in
            let response = try await Self.get(client, "/console", session: nil)
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/console/login")
            let login = try await Self.get(client, "/console/login", session: nil)
            #expect(login.status == .ok)
            #expect(String(buffer: login.body).contains("主管登录"))
        }
    }

    @Test("a device's bearer token opens no console page and performs no console action", arguments: Backend.available)
    func deviceToken(_ backend: Backend) async throws {
        try await withConsole(backend) { f, client in
            for device in ["zhou", "li", "pm"] {
                var headers = f.headers(device)
                headers.append(contentsOf: Self.formHeaders)
                for uri in Self.pages where uri != "/console/login" {
                    let response = try await client.execute(uri: uri, method: .get, headers: f.headers(device))
                    #expect(response.status == .seeOther, "\(uri) with \(device)'s token: \(response.status)")
                }
                for uri in Self.posts {
                    let response = try await client.execute(uri: uri, method: .post, headers: headers, body: Self.formBody([("csrf", "x"), ("name", "li")]))
                    #expect(response.status != .ok && response.status != .seeOther || response.headers[.location] == "/console/login", "\(uri): \(response.status)")
                }
            }
            #expect(try await Self.status(f).state == .submitted)
            #expect(try await f.storage.devices().allSatisfy { $0.revokedAt == nil })
        }
    }

    @Test("a wrong password, an unknown or revoked user is refused and gets no cookie", arguments: Backend.available)
    func wrongPassword(_ backend: Backend) async throws {
        try await withConsole(backend) { f, client in
            for (name, password) in [("zhou", "wrong horse battery"), ("nobody", Self.password), ("zhou", "")] {
                let response = try await client.execute(
                    uri: "/console/login", method: .post, headers: Self.formHeaders, body: Self.formBody([("name", name), ("password", password)]))
                #expect(response.status == .unauthorized || response.status == .badRequest)
                #expect(response.headers[.setCookie] == nil)
                #expect(String(buffer: response.body).contains("用户名或密码不正确") || password.isEmpty)
            }
            let session = try #require(try await Self.signIn(client))
            #expect(try await Self.get(client, "/console", session: session).status == .ok)
            try await ConsoleAccounts(storage: f.storage).revoke(name: "zhou")
            #expect(try await Self.get(client, "/console", session: session).status == .seeOther, "revoking ends the session at once")
            #expect(try await Self.signIn(client) == nil)
        }
    }

    @Test("a POST without, with a forged or with another session's CSRF token is a 403 and changes nothing", arguments: Backend.available)
    func csrf(_ backend: Backend) async throws {
        try await withConsole(backend) { f, client in
            let session = try #require(try await Self.signIn(client))
            let other = try #require(try await Self.signIn(client))
            let otherToken = try await Self.csrf(client, session: other)
            let audit = try await f.storage.auditEntries(after: 0, record: nil, limit: 1000)
            for fields in [[("note", "ok")], [("csrf", String(repeating: "0", count: 64))], [("csrf", otherToken)], [("csrf", "")]] {
                let response = try await Self.post(client, "/console/forms/form-1/review", session: session, fields)
                #expect(response.status == .forbidden)
                let revoke = try await Self.post(client, "/console/devices/revoke", session: session, fields + [("name", "li")])
                #expect(revoke.status == .forbidden)
            }
            // The right token from another site is refused too.
            let token = try await Self.csrf(client, session: session)
            let crossSite = try await Self.post(
                client, "/console/forms/form-1/review", session: session, [("csrf", token)], extra: [HeaderName("Sec-Fetch-Site")!: "cross-site"])
            #expect(crossSite.status == .forbidden)
            let foreignOrigin = try await Self.post(
                client, "/console/forms/form-1/review", session: session, [("csrf", token)], extra: [HeaderName("Origin")!: "http://evil.example"])
            #expect(foreignOrigin.status == .forbidden)
            #expect(try await Self.status(f).state == .submitted)
            #expect(try await f.storage.auditEntries(after: 0, record: nil, limit: 1000) == audit)
            #expect(try await f.storage.devices().allSatisfy { $0.revokedAt == nil })
        }
    }

    @Test("an expired session is sent to sign in again", arguments: Backend.available)
    func expired(_ backend: Backend) async throws {
        let clock = MovableClock(ServerFixture.now)
        try await withConsole(backend, clock: clock) { f, client in
            let session = try #require(try await Self.signIn(client))
            let token = try await Self.csrf(client, session: session)
            clock.advance(by: f.configuration.console.sessionLifetime + 1)
            let page = try await Self.get(client, "/console/forms/form-1", session: session)
            #expect(page.status == .seeOther && page.headers[.location] == "/console/login")
            let post = try await Self.post(client, "/console/forms/form-1/review", session: session, [("csrf", token)])
            #expect(post.status == .seeOther && post.headers[.location] == "/console/login")
            #expect(try await Self.status(f).state == .submitted)
        }
    }

    @Test("a form of another zone is a 404, and so is acting on it", arguments: Backend.available)
    func zones(_ backend: Backend) async throws {
        try await withConsole(backend) { f, client in
            let session = try #require(try await Self.signIn(client))
            let token = try await Self.csrf(client, session: session)
            #expect(try await Self.get(client, "/console/forms/form-w", session: session).status == .notFound)
            #expect(try await Self.get(client, "/console/records/form-w", session: session).status == .notFound)
            #expect(try await Self.get(client, "/console/forms/no-such", session: session).status == .notFound)
            #expect(try await Self.post(client, "/console/forms/form-w/review", session: session, [("csrf", token)]).status == .notFound)
            #expect(try await Self.post(client, "/console/devices/revoke", session: session, [("csrf", token), ("name", "chen")]).status == .notFound)
            #expect(try await Self.status(f, "form-w").state == .submitted)
            let overview = String(buffer: try await Self.get(client, "/console", session: session).body)
            #expect(overview.contains("/console/forms/form-1") && !overview.contains("form-w"))
            // chen-sup sees west-1 only.
            let chen = try #require(try await Self.signIn(client, "chen-sup"))
            #expect(try await Self.get(client, "/console/forms/form-1", session: chen).status == .notFound)
            #expect(try await Self.get(client, "/console/forms/form-w", session: chen).status == .ok)
        }
    }

    @Test("review, close and reopen merge as the console user's replica; a refused merge is shown and changes nothing", arguments: Backend.available)
    func decisions(_ backend: Backend) async throws {
        try await withConsole(backend) { f, client in
            let session = try #require(try await Self.signIn(client))
            let token = try await Self.csrf(client, session: session)
            let review = try await Self.post(client, "/console/forms/form-1/review", session: session, [("csrf", token), ("note", "楼梯灯 OK")])
            #expect(review.status == .seeOther)
            #expect(review.headers[.location] == "/console/forms/form-1?done=review")
            #expect(try await Self.status(f).state == .reviewed)
            let page = String(buffer: try await Self.get(client, "/console/forms/form-1?done=review", session: session).body)
            #expect(page.contains("楼梯灯 OK") && page.contains("已审核"))
            // The audit log names the console user; its replica is bound to console:zhou.
            let audit = try await f.storage.auditEntries(after: 0, record: RecordID("form-1"), limit: 100)
            #expect(audit.last?.device == "console:zhou")
            let bindings = try await f.storage.replicaBindings().filter { $0.device == "console:zhou" }
            #expect(bindings.count == 1)
            // Reviewing again is refused by the model: shown, nothing changes.
            let again = try await Self.post(client, "/console/forms/form-1/review", session: session, [("csrf", token)])
            #expect(again.status == .conflict)
            #expect(String(buffer: again.body).contains("invalid-transition"))
            #expect(try await f.storage.auditEntries(after: 0, record: RecordID("form-1"), limit: 100) == audit)
            #expect(try await Self.post(client, "/console/forms/form-1/close", session: session, [("csrf", token)]).status == .seeOther)
            #expect(try await Self.status(f).state == .closed)
            #expect(try await Self.post(client, "/console/forms/form-1/reopen", session: session, [("csrf", token)]).status == .seeOther)
            #expect(try await Self.status(f) == FormStatus(state: .draft, round: 2))
            #expect(try await f.storage.replicaBindings().filter { $0.device == "console:zhou" }.count == 1, "one replica per console user")
            // li's device receives the decisions by pull like any edit.
            let pull = try await client.execute(uri: "/v1/pull?cursor=0", method: .get, headers: f.headers("li"))
            #expect(pull.status == .ok)
            #expect(String(buffer: pull.body).contains("console:zhou"))
        }
    }

    @Test("signing out ends the session; the devices page revokes at once", arguments: Backend.available)
    func signOutAndRevoke(_ backend: Backend) async throws {
        try await withConsole(backend) { f, client in
            let session = try #require(try await Self.signIn(client))
            let token = try await Self.csrf(client, session: session)
            // li syncs: the devices page shows when.
            #expect(try await client.execute(uri: "/v1/pull?cursor=0", method: .get, headers: f.headers("li")).status == .ok)
            let devices = String(buffer: try await Self.get(client, "/console/devices", session: session).body)
            #expect(devices.contains("device-li") && !devices.contains("device-chen"))
            #expect(try await Self.post(client, "/console/devices/revoke", session: session, [("csrf", token), ("name", "li")]).status == .seeOther)
            #expect(try await client.execute(uri: "/v1/pull?cursor=0", method: .get, headers: f.headers("li")).status == .unauthorized)
            #expect(try await Self.post(client, "/console/logout", session: session, [("csrf", token)]).status == .seeOther)
            #expect(try await Self.get(client, "/console", session: session).status == .seeOther)
        }
    }

    @Test("the devices page lists a device's pending refusals with their code and record; 已处理 ends one, with a CSRF token, in the user's zones only", arguments: Backend.available)
    func pendingRefusals(_ backend: Backend) async throws {
        try await withConsole(backend) { f, client in
            let session = try #require(try await Self.signIn(client))
            let token = try await Self.csrf(client, session: session)
            // li reviews the submitted form-1 by mistake; chen (west-1) does the same to form-w.
            var form = try #require(try await f.storage.records(zones: [Deltas.zone]).first { $0.id.rawValue == "form-1" })
            let review = try InspectionForm.review(&form, note: "误操作", at: F.now, stamp: Deltas.stamp("li-dev", Self.t0 + 20))
            #expect(try await f.push(client, as: "li", [review]).map(\.code) == ["role-forbidden"])
            var west = try #require(try await f.storage.records(zones: [try Zone("west-1")]).first)
            let westReview = try InspectionForm.review(&west, at: F.now, stamp: Deltas.stamp("chen-dev", Self.t0 + 20))
            #expect(try await f.push(client, as: "chen", [westReview]).map(\.code) == ["role-forbidden"])
            let li = try #require(try await f.storage.pendingRefusals().first { $0.device == "li" })
            let chen = try #require(try await f.storage.pendingRefusals().first { $0.device == "chen" })

            let page = String(buffer: try await Self.get(client, "/console/devices", session: session).body)
            #expect(page.contains("refusals-li") && page.contains("refusal-\(li.id)") && page.contains("role-forbidden"))
            #expect(page.contains("href=\"/console/records/form-1\"") && page.contains("无权限"))
            #expect(!page.contains("refusal-\(chen.id)\""), "chen's device is outside zhou's zones")
            // Without the token, or for a device outside the user's zones: nothing ends.
            #expect(try await Self.post(client, "/console/devices/refusals/dismiss", session: session, [("device", "li"), ("id", String(li.id))]).status == .forbidden)
            #expect(try await Self.post(client, "/console/devices/refusals/dismiss", session: session, [("csrf", token), ("device", "chen"), ("id", String(chen.id))]).status == .notFound)
            #expect(try await f.storage.pendingRefusals().count == 2)
            // Another device's name with li's refusal id ends nothing either.
            #expect(try await Self.post(client, "/console/devices/refusals/dismiss", session: session, [("csrf", token), ("device", "wang"), ("id", String(li.id))]).status == .notFound)
            #expect(try await f.storage.pendingRefusals().count == 2)
            #expect(try await Self.post(client, "/console/devices/refusals/dismiss", session: session, [("csrf", token), ("device", "li"), ("id", String(li.id))]).status == .seeOther)
            #expect(try await f.storage.pendingRefusals().map(\.device) == ["chen"])
            let after = String(buffer: try await Self.get(client, "/console/devices", session: session).body)
            #expect(!after.contains("refusals-li") && !after.contains("refusal-\(li.id)\""))
        }
    }

    @Test("the form page highlights a late edit beside what was submitted", arguments: Backend.available)
    func lateEdits(_ backend: Backend) async throws {
        try await ServerFixture.with(backend) { f in
            try await ConsoleAccounts(storage: f.storage, cost: .fast).add(name: "zhou", zones: [try Zone("east-3")], password: Self.password)
            try await f.app().test(.router) { client in
                let template = Deltas.template
                let created = Deltas.form()
                // Li records a defect and submits; Wang, who saw only the new form, marks it ok.
                var li = created
                let defect = try InspectionForm.setResult(
                    &li, item: "fire-door", result: .defect, note: nil, template: template, at: ServerFixture.now, stamp: Deltas.stamp("li-dev", Self.t0 + 5))
                let submit = try InspectionForm.submit(&li, stamp: Deltas.stamp("li-dev", Self.t0 + 10))
                var wang = created
                let late = try InspectionForm.setResult(
                    &wang, item: "fire-door", result: .ok, note: nil, template: template, at: ServerFixture.now, stamp: Deltas.stamp("wang-dev", Self.t0 + 20))
                #expect(try await f.push(client, as: "li", [created, defect, submit]).map(\.status) == [.accepted, .accepted, .accepted])
                #expect(try await f.push(client, as: "wang", [late]).map(\.status) == [.accepted])
                let session = try #require(try await Self.signIn(client))
                let page = String(buffer: try await Self.get(client, "/console/forms/form-1", session: session).body)
                #expect(page.contains("id=\"late-edits\""))
                #expect(page.contains("items/fire-door/result"))
                #expect(page.contains("提交时为 <strong>不合格</strong>"), "the submitted defect is shown beside the late ok")
                #expect(page.contains("class=\"late\" id=\"item-fire-door\""), "the item is highlighted")
                let overview = String(buffer: try await Self.get(client, "/console", session: session).body)
                #expect(overview.contains("处迟到修改"))
            }
        }
    }

    @Test("two clicks of one supervisor at once: one review lands, the other is refused and shown, nothing else changes", arguments: Backend.available)
    func doubleClick(_ backend: Backend) async throws {
        try await withConsole(backend) { f, client in
            let first = try #require(try await Self.signIn(client))
            let second = try #require(try await Self.signIn(client))
            let (t1, t2) = (try await Self.csrf(client, session: first), try await Self.csrf(client, session: second))
            async let a = Self.post(client, "/console/forms/form-1/review", session: first, [("csrf", t1), ("note", "第一次")])
            async let b = Self.post(client, "/console/forms/form-1/review", session: second, [("csrf", t2), ("note", "第二次")])
            let statuses = [try await a.status, try await b.status]
            #expect(statuses.filter { $0 == .seeOther }.count == 1, "\(statuses)")
            #expect(statuses.filter { $0 == .conflict }.count == 1, "\(statuses)")
            let form = try InspectionForm(JSONParser.parseRecordState(try #require(try await f.storage.encodedRecord(id: RecordID("form-1")))))
            #expect(form.status.state == .reviewed)
            #expect(form.reviewNotes.count == 1)
        }
    }
}
