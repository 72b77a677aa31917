import ButlerModel
import Foundation
import Hummingbird
import Logging

/// The supervisor console under `/console`: server-rendered pages for people, beside the `/v1`
/// API for devices.
///
/// Every request is a claim checked here: the session comes only from the console's own cookie
/// (a device's `Authorization: Bearer` token is never read, so it opens nothing); every POST
/// carries the session's CSRF token in a hidden field, compared in constant time, and when the
/// browser sends `Origin` or `Sec-Fetch-Site` they must name this site; a record outside the
/// user's zones is a 404, exactly like one that does not exist. Decisions on forms go through
/// ``ConsoleEdits`` — the devices' merge — and a refusal changes nothing and is shown on the page.
struct ConsoleRoutes: Sendable {
    let storage: any SyncStorage
    let console: any ConsoleStorage
    let blobs: BlobStore
    let configuration: ServerConfiguration
    let sessions: ConsoleSessions
    let pages: ConsolePages

    /// The largest form body the console reads (a review note is at most a few KiB).
    static let maxFormBytes = 64 << 10

    func register(on router: Router<ButlerRequestContext>) {
        let group = router.group("console")
        group.get { request, _ in try await page(request) { signedIn in try await overview(signedIn) } }
        group.get("login") { request, _ in
            if try await sessions.check(cookie: cookie(request)) != nil { return redirect("/console") }
            return pages.render("login", ["title": "登录"])
        }
        group.post("login") { request, context in try await login(request, context) }
        group.post("logout") { request, context in
            try await post(request, context) { signedIn, _ in
                try await sessions.signOut(signedIn.session)
                var response = redirect("/console/login")
                response.setCookie(Self.cookie(value: "", maxAge: 0))
                return response
            }
        }
        group.get("forms/{id}") { request, context in
            try await page(request) { signedIn in
                guard let form = try await form(context.parameters.get("id"), for: signedIn.user) else { return notFound(signedIn) }
                let done = request.uri.queryParameters.get("done").flatMap(ConsoleEdits.Action.init(rawValue:))
                return formPage(form, signedIn, message: done.map { ["kind": "done", "text": Self.doneText($0)] })
            }
        }
        group.post("forms/{id}/{action}") { request, context in
            try await post(request, context) { signedIn, fields in
                guard let action = context.parameters.get("action").flatMap(ConsoleEdits.Action.init(rawValue:)),
                    let form = try await form(context.parameters.get("id"), for: signedIn.user)
                else { return notFound(signedIn) }
                let refusal = try await ConsoleEdits.apply(
                    action, form: form.id, note: fields["note"], user: signedIn.user, storage: storage, now: configuration.clock.now())
                if let refusal {
                    context.logger.notice(
                        "console edit refused",
                        metadata: ["console.user": "\(signedIn.user.name)", "record.id": "\(form.id)", "error.code": "\(refusal.code)"])
                    let current = try await self.form(form.id.rawValue, for: signedIn.user) ?? form
                    return formPage(current, signedIn, message: ["kind": "error", "text": Self.refusalText(refusal)], status: .conflict)
                }
                context.logger.info("console edit merged", metadata: ["console.user": "\(signedIn.user.name)", "record.id": "\(form.id)", "console.action": "\(action.rawValue)"])
                return redirect("/console/forms/\(form.id.rawValue)?done=\(action.rawValue)")
            }
        }
        group.get("photos/{sha256}") { request, context in
            try await page(request) { signedIn in try await photo(context.parameters.get("sha256") ?? "", signedIn) }
        }
        group.get("overdue") { request, _ in try await page(request) { signedIn in try await overdue(signedIn) } }
        group.get("records/{id}") { request, context in
            try await page(request) { signedIn in try await record(context.parameters.get("id"), signedIn) }
        }
        group.get("devices") { request, _ in try await page(request) { signedIn in try await devices(signedIn) } }
        group.post("devices/revoke") { request, context in
            try await post(request, context) { signedIn, fields in
                guard let name = fields["name"], let device = try await storage.devices().first(where: { $0.name == name }),
                    !Set(device.zones).isDisjoint(with: signedIn.user.zones)
                else { return notFound(signedIn) }
                _ = try await storage.revokeDevice(name: name, at: configuration.clock.now())
                context.logger.info("device revoked from the console", metadata: ["console.user": "\(signedIn.user.name)", "device.name": "\(name)"])
                return redirect("/console/devices")
            }
        }
        group.post("devices/refusals/dismiss") { request, context in
            try await post(request, context) { signedIn, fields in
                guard let name = fields["device"], let id = fields["id"].flatMap(Int64.init),
                    let device = try await storage.devices().first(where: { $0.name == name }),
                    !Set(device.zones).isDisjoint(with: signedIn.user.zones),
                    let refusal = try await storage.pendingRefusals().first(where: { $0.id == id && $0.device == name }),
                    Self.shows(refusal, to: signedIn.user)
                else { return notFound(signedIn) }
                let ended = try await storage.resolveRefusals(device: name, [.dismissed(id: id)])
                context.logger.info(
                    "pending refusal dismissed from the console",
                    metadata: ["console.user": "\(signedIn.user.name)", "device.name": "\(name)", "refusal.id": "\(id)", "refusals.resolved": "\(ended)"])
                return redirect("/console/devices#device-\(name)")
            }
        }
    }

    // MARK: Sessions and forms

    static func cookie(value: String, maxAge: Int) -> Cookie {
        Cookie(name: ConsoleSessions.cookieName, value: value, maxAge: maxAge, path: "/console", secure: false, httpOnly: true, sameSite: .strict)
    }

    func cookie(_ request: Request) -> String? { request.cookies[ConsoleSessions.cookieName]?.value }

    func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// A page for a signed-in user; anyone else is sent to the sign-in page.
    func page(_ request: Request, _ body: (ConsoleSessions.SignedIn) async throws -> Response) async throws -> Response {
        guard let signedIn = try await sessions.check(cookie: cookie(request)) else { return redirect("/console/login") }
        return try await body(signedIn)
    }

    /// A POST of a signed-in user with this session's CSRF token, from this site.
    func post(
        _ request: Request, _ context: ButlerRequestContext, _ body: (ConsoleSessions.SignedIn, [String: String]) async throws -> Response
    ) async throws -> Response {
        guard Self.sameSite(request) else { return forbidden(nil, "这个请求不是从本站的页面发出的。") }
        guard let signedIn = try await sessions.check(cookie: cookie(request)) else { return redirect("/console/login") }
        guard let fields = try await Self.formFields(request) else { return forbidden(signedIn, "表单内容无法读取。") }
        guard ConsoleSessions.csrfMatches(fields["csrf"], session: signedIn.session) else {
            context.logger.notice("console form refused: CSRF token mismatch", metadata: ["console.user": "\(signedIn.user.name)"])
            return forbidden(signedIn, "表单已失效（安全令牌不符），请刷新页面后再试。")
        }
        return try await body(signedIn, fields)
    }

    func login(_ request: Request, _ context: ButlerRequestContext) async throws -> Response {
        guard Self.sameSite(request) else { return forbidden(nil, "这个请求不是从本站的页面发出的。") }
        guard let fields = try await Self.formFields(request), let name = fields["name"], let password = fields["password"],
            !name.isEmpty, name.utf8.count <= 256, password.utf8.count <= 1024
        else {
            return pages.render("login", ["title": "登录", "message": ["kind": "error", "text": "请输入用户名和密码。"]], status: .badRequest)
        }
        guard let (id, session) = try await sessions.signIn(name: name, password: password) else {
            context.logger.notice("console sign-in refused", metadata: ["console.user": "\(name)"])
            return pages.render(
                "login", ["title": "登录", "name": name, "message": ["kind": "error", "text": "用户名或密码不正确。"]], status: .unauthorized)
        }
        context.logger.info("console sign-in", metadata: ["console.user": "\(session.user)"])
        var response = redirect("/console")
        let lifetime = Int(session.expiresAt.timeIntervalSince(session.createdAt))
        response.setCookie(Self.cookie(value: id, maxAge: lifetime))
        return response
    }

    /// False when the browser says the request comes from another site: `Sec-Fetch-Site` other
    /// than `same-origin`, or an `Origin` whose host is not this request's `Host`.
    static func sameSite(_ request: Request) -> Bool {
        if let site = request.headers[HeaderName("Sec-Fetch-Site")!], site != "same-origin" { return false }
        if let origin = request.headers[HeaderName("Origin")!] {
            guard let host = request.head.authority ?? request.headers[HeaderName("Host")!],
                let components = URLComponents(string: origin), let originHost = components.host
            else { return false }
            let originAuthority = components.port.map { "\(originHost):\($0)" } ?? originHost
            return originAuthority.lowercased() == host.lowercased()
        }
        return true
    }

    /// The fields of an `application/x-www-form-urlencoded` body (at most ``maxFormBytes``), the
    /// last value of a repeated name winning; `nil` for another content type or a body too large.
    static func formFields(_ request: Request) async throws -> [String: String]? {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else { return nil }
        guard let buffer = try? await request.body.collect(upTo: maxFormBytes) else { return nil }
        return parseForm(String(buffer: buffer))
    }

    static func parseForm(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String? { String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let name = parts.first.flatMap(decode) else { continue }
            fields[name] = parts.count > 1 ? decode(parts[1]) ?? "" : ""
        }
        return fields
    }

    func forbidden(_ signedIn: ConsoleSessions.SignedIn?, _ text: String) -> Response {
        var context: [String: Any] = ["title": "已拒绝", "heading": "请求被拒绝", "text": text]
        if let signedIn { context["user"] = pages.userContext(signedIn) }
        return pages.render("error", context, status: .forbidden)
    }

    func notFound(_ signedIn: ConsoleSessions.SignedIn) -> Response {
        pages.render(
            "error", ["title": "未找到", "heading": "未找到", "text": "您的片区里没有这条记录。", "user": pages.userContext(signedIn)],
            status: .notFound)
    }

    static func doneText(_ action: ConsoleEdits.Action) -> String {
        switch action {
        case .review: "已审核。管家的设备下次同步时会收到。"
        case .close: "已关闭。"
        case .reopen: "已退回，管家可以重新填写。"
        }
    }

    static func refusalText(_ error: ModelError) -> String {
        switch error.code {
        case .dotReused, .counterJump, .unknownDots:
            "操作未保存：同一时间有另一处修改了这张表单（\(error.code)）。页面已显示最新状态，请确认后再试。"
        case .invalidTransition:
            "操作未保存：表单当前的状态不允许这样做（\(error.code)）。页面已显示最新状态。"
        case .roleForbidden, .zoneForbidden:
            "操作未保存：您的账号无权这样做（\(error.code)）。"
        default:
            "操作未保存（\(error.code)）：\(error.message)"
        }
    }

    // MARK: Pages

    /// A form of the user's zones, or `nil` (also for an id that is not a form, or unreadable).
    func form(_ id: String?, for user: ConsoleUser) async throws -> InspectionForm? {
        guard let id, let recordID = try? RecordID(id), let bytes = try await storage.encodedRecord(id: recordID),
            let state = try? JSONParser.parseRecordState(bytes), state.type == .inspectionForm, user.zones.contains(state.zone)
        else { return nil }
        return try? InspectionForm(state)
    }

    func formPage(_ form: InspectionForm, _ signedIn: ConsoleSessions.SignedIn, message: [String: Any]?, status: HTTPResponse.Status = .ok) -> Response {
        var context = pages.formContext(form, csrf: signedIn.session.csrf)
        context["user"] = pages.userContext(signedIn)
        context["navOverview"] = true
        if let message { context["message"] = message }
        return pages.render("form", context, status: status)
    }

    func overview(_ signedIn: ConsoleSessions.SignedIn) async throws -> Response {
        let records = try await storage.records(zones: signedIn.user.zones)
        let forms = records.filter { $0.type == .inspectionForm }.compactMap { try? InspectionForm($0) }
        let zones = signedIn.user.zones.map { zone -> [String: Any] in
            let mine = forms.filter { $0.zone == zone }.sorted { ($0.createdAt ?? .distantPast, $0.id) < ($1.createdAt ?? .distantPast, $1.id) }
            return [
                "zone": zone.rawValue,
                "waiting": mine.filter { $0.status.state == .submitted }.map(pages.overviewRow),
                "reviewed": mine.filter { $0.status.state == .reviewed }.map(pages.overviewRow),
            ]
        }
        return pages.render("overview", ["title": "待审核", "user": pages.userContext(signedIn), "navOverview": true, "zones": zones])
    }

    func overdue(_ signedIn: ConsoleSessions.SignedIn) async throws -> Response {
        let records = try await storage.records(zones: signedIn.user.zones)
        let now = configuration.clock.now()
        let calendar = configuration.calendar.withRain(from: records)
        let types = Dictionary(records.map { ($0.id, $0.type) }, uniquingKeysWith: { a, _ in a })
        let overdue = Escalation.evaluate(records, now: now, calendar: calendar).map { escalation -> [String: Any] in
            [
                "kind": ConsolePages.escalationLabel(escalation.kind), "record": escalation.record.rawValue,
                "link": ConsolePages.link(escalation.record, type: types[escalation.record]), "zone": escalation.zone.rawValue,
                "since": pages.time(escalation.since), "detail": escalation.detail,
            ]
        }
        // Callbacks not yet due whose due time falls within the next 48 hours.
        let soon = ViewRoutes.callbacks(records, now: now, calendar: calendar).compactMap { row -> [String: Any]? in
            guard row["outcome"]?.stringValue == "pending", row["overdue"]?.boolValue != true, let due = row["due"]?.stringValue.flatMap(Timestamp.parse),
                due > now, due.timeIntervalSince(now) <= 48 * 3600, let subject = row["subject"]?.stringValue, let id = try? RecordID(subject)
            else { return nil }
            return [
                "kind": "回访将到期", "record": subject, "link": ConsolePages.link(id, type: types[id]), "zone": row["zone"]?.stringValue ?? "",
                "due": pages.time(due),
            ]
        }
        return pages.render(
            "overdue", ["title": "逾期与将到期", "user": pages.userContext(signedIn), "navOverdue": true, "overdue": overdue, "dueSoon": soon])
    }

    func record(_ id: String?, _ signedIn: ConsoleSessions.SignedIn) async throws -> Response {
        guard let id, let recordID = try? RecordID(id), let bytes = try await storage.encodedRecord(id: recordID),
            let state = try? JSONParser.parseRecordState(bytes), signedIn.user.zones.contains(state.zone)
        else { return notFound(signedIn) }
        if state.type == .inspectionForm { return redirect("/console/forms/\(id)") }
        let view = (try? state.resolvedView())?.objectValue ?? [:]
        let fields = view.keys.sorted().map { key -> [String: Any] in ["name": key, "value": ConsolePages.describe(view[key] ?? .null)] }
        return pages.render(
            "record",
            ["title": ConsolePages.typeLabel(state.type), "typeLabel": ConsolePages.typeLabel(state.type), "id": id, "fields": fields,
             "user": pages.userContext(signedIn), "navOverdue": true])
    }

    func devices(_ signedIn: ConsoleSessions.SignedIn) async throws -> Response {
        let seen = try await console.devicesLastSeen()
        let zones = Set(signedIn.user.zones)
        let kept = try await storage.pendingRefusals()
        let held = Dictionary(grouping: kept, by: \.device).mapValues(\.count)
        let refusals = Dictionary(grouping: kept.filter { Self.shows($0, to: signedIn.user) }, by: \.device)
        let devices = try await storage.devices().filter { !zones.isDisjoint(with: $0.zones) }.map { device -> [String: Any] in
            var row: [String: Any] = [
                "name": device.name, "role": Self.roleLabel(device.role), "zones": device.zones.map(\.rawValue).joined(separator: "、"),
                "lastSeen": seen[device.name].map(pages.time) ?? "从未", "csrf": signedIn.session.csrf,
            ]
            if let revoked = device.revokedAt { row["revoked"] = pages.time(revoked) }
            let pending = refusals[device.name] ?? []
            row["refusalCount"] = pending.count
            row["hasRefusals"] = !pending.isEmpty
            if held[device.name, default: 0] >= RefusalLog.maxPendingPerDevice { row["refusalsFull"] = true }
            row["refusals"] = pending.map { refusal -> [String: Any] in
                var item: [String: Any] = [
                    "id": refusal.id, "device": device.name, "code": refusal.code.rawValue, "label": Self.refusalLabel(refusal.code),
                    "message": refusal.message, "firstAt": pages.time(refusal.firstAt), "lastAt": pages.time(refusal.lastAt), "times": refusal.times,
                    "held": ErrorCode.held.contains(refusal.code), "csrf": signedIn.session.csrf,
                ]
                if let record = refusal.record {
                    item["record"] = record
                    if let zone = refusal.zone, let z = try? Zone(zone), zones.contains(z) { item["link"] = "/console/records/" + record }
                }
                return item
            }
            return row
        }
        return pages.render("devices", ["title": "设备", "user": pages.userContext(signedIn), "navDevices": true, "devices": devices])
    }

    /// Whether `user` sees (and may set aside) a pending refusal: one of a record of the user's
    /// zones, or of a delta that could not be read (it names no zone).
    static func shows(_ refusal: PendingRefusal, to user: ConsoleUser) -> Bool {
        guard let zone = refusal.zone else { return true }
        return user.zones.contains { $0.rawValue == zone }
    }

    /// What a refusal's code means to a supervisor, in a few words.
    static func refusalLabel(_ code: ErrorCode) -> String {
        switch code {
        case .roleForbidden: "无权限（如管家审核、关闭表单）"
        case .zoneForbidden: "设备无权写入这个片区"
        case .clockAhead: "设备时钟超前"
        case .dotReused, .foreignDot: "设备副本被复制或从旧备份恢复"
        case .counterJump, .unknownDots: "可疑的修改（伪造或损坏）"
        case .recordTooLarge: "记录超出大小上限"
        case .storedRecordUnreadable: "服务器上的记录已损坏"
        case .formSubmitted, .invalidTransition: "表单状态不允许这个修改"
        case .quotaExceeded, .storageFull: "配额或存储空间已满"
        case .invalidJSON, .invalidValue, .invalidField, .unknownTemplate, .unknownItem, .recordMismatch: "内容不合法"
        default: "被拒收"
        }
    }

    static func roleLabel(_ role: DeviceRole) -> String {
        switch role {
        case .butler: "管家"
        case .supervisor: "主管"
        case .manager: "项目经理"
        }
    }

    /// A photo of the user's zones, streamed from the blob store (the browser scales it).
    func photo(_ sha: String, _ signedIn: ConsoleSessions.SignedIn) async throws -> Response {
        guard Photo.isSHA256(sha), let size = try await blobs.completeSize(sha), size > 0,
            try await storage.isPhotoVisible(sha256: sha, zones: signedIn.user.zones)
        else { return notFound(signedIn) }
        var head: [UInt8] = []
        _ = try await blobs.read(sha, from: 0, count: min(size, 12)) { head += $0 }
        let headers: HTTPFields = [
            .contentType: Self.imageType(head), .contentLength: String(size), .cacheControl: "private, max-age=86400",
            HeaderName("X-Content-Type-Options")!: "nosniff",
            .contentSecurityPolicy: "default-src 'none'; sandbox",
        ]
        let body = ResponseBody(contentLength: Int(size)) { [blobs] writer in
            _ = try await blobs.read(sha, from: 0, count: size) { chunk in try await writer.write(ByteBuffer(bytes: chunk)) }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// The image type the first bytes name; anything else is served as bytes the browser will not render.
    static func imageType(_ head: [UInt8]) -> String {
        if head.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "image/png" }
        if head.count >= 12, head[0..<4] == [0x52, 0x49, 0x46, 0x46], head[8..<12] == [0x57, 0x45, 0x42, 0x50] { return "image/webp" }
        if head.starts(with: Array("GIF8".utf8)) { return "image/gif" }
        return "application/octet-stream"
    }
}
