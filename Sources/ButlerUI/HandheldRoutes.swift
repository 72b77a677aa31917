import ButlerClient
import ButlerFiles
import ButlerModel
import Foundation
import Hummingbird
import Logging

/// The handheld page's routes: every page reads the device store, every POST writes it through
/// the same `ClientStore` calls the CLI makes, and redirects only once the store call returned
/// (the edit is then committed to SQLite, `synchronous = FULL`).
///
/// Store calls are blocking SQLite (and file) work: each runs on ``BlockingIO``'s dispatch queue,
/// never on the cooperative pool that serves requests.
struct HandheldRoutes: Sendable {
    let store: ClientStore
    let pages: PageRenderer
    let guardian: RequestGuard
    let sync: SyncRunner
    let configuration: HandheldConfiguration
    let logger: Logger

    func register(on router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in try await today() }
        router.get("/forms/new") { _, _ in try await newForm() }
        router.post("/forms") { request, _ in try await createForm(request) }
        router.get("/forms/:form") { _, context in try await form(context.parameters.require("form")) }
        router.post("/forms/:form/items/:item") { request, context in
            try await setResult(request, form: context.parameters.require("form"), item: context.parameters.require("item"))
        }
        router.post("/forms/:form/notes") { request, context in try await addNote(request, form: context.parameters.require("form")) }
        router.post("/forms/:form/photos") { request, context in try await addPhoto(request, form: context.parameters.require("form")) }
        router.post("/forms/:form/submit") { request, context in try await submit(request, form: context.parameters.require("form")) }
        router.get("/photos/:sha") { _, context in try await photo(context.parameters.require("sha")) }
        router.get("/workorders/:order/callback") { _, context in try await callback(context.parameters.require("order")) }
        router.post("/workorders/:order/callbacks") { request, context in try await logCallback(request, order: context.parameters.require("order")) }
        router.get("/sync") { _, _ in try await syncPage() }
        router.post("/sync") { request, _ in try await startSync(request) }
        router.get("/sync/status") { _, _ in syncStatus() }
    }

    // MARK: Reading and writing the store off the cooperative pool

    /// Runs blocking store work on ``BlockingIO``'s threads; model errors come back as ``ClientError``.
    func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await BlockingIO.run {
            do { return try work() } catch let error as ModelError { throw ClientError(error) }
        }
    }

    /// The posted fields, once the request proved it came from our own page (``RequestGuard``).
    func posted(_ request: Request) async throws -> PostedForm {
        let form = try await PostedForm.read(request, maxBytes: configuration.maxBodyBytes)
        try guardian.checkPost(request, fields: form.fields)
        return form
    }

    // MARK: Today

    /// How many forms Today lists.
    static let formsListed = 30

    func today() async throws -> Response {
        let store = self.store
        let (agenda, forms, status, calendar, identity) = try await blocking {
            (try store.agenda(), try store.forms(), try store.status(), try store.estateCalendar(), try store.identity())
        }
        let catalog = try TemplateCatalog.bundled()
        let items: [[String: Any]] = agenda.items.map { item in
            var row: [String: Any] = [
                "kind": Labels.agendaKind[item.kind.rawValue] ?? item.kind.rawValue, "what": item.what, "overdue": item.overdue,
                "due": item.due.map { Labels.localTime($0, calendar) } ?? item.waitingFor.map { "等待：\($0)" }
                    ?? item.since.map { "开始于 \(Labels.localTime($0, calendar))" } ?? "",
            ]
            if let place = item.place { row["place"] = place }
            switch item.kind {
            case .draft, .notice: row["link"] = "/forms/\(item.record.rawValue)"
            case .callback: row["link"] = "/workorders/\(item.record.rawValue)/callback"
            default: break
            }
            return row
        }
        // Drafts first (still to finish), then the newest; a device that pulled a zone's history
        // would otherwise list every form it holds.
        let listed = forms.sorted {
            ($0.status.state == .draft ? 0 : 1, $1.createdAt ?? .distantPast) < ($1.status.state == .draft ? 0 : 1, $0.createdAt ?? .distantPast)
        }.prefix(Self.formsListed)
        let formRows: [[String: Any]] = listed.map { form in
            [
                "id": form.id.rawValue, "title": form.template.flatMap { try? catalog.template($0).title } ?? form.template ?? "巡查表",
                "place": form.place ?? "", "zone": form.zone.rawValue, "state": form.status.state.rawValue,
                "stateLabel": Labels.state(form.status.state), "created": form.createdAt.map { Labels.localTime($0, calendar) } ?? "",
            ]
        }
        var data: [String: Any] = [
            "now": Labels.localTime(agenda.now, calendar), "name": identity.name,
            "zones": agenda.zones.map { $0.map(\.rawValue).sorted().joined(separator: "、") } ?? "全部片区",
            "count": agenda.items.count, "items": items, "forms": formRows,
        ]
        if forms.count > listed.count { data["moreForms"] = forms.count - listed.count }
        let overdue = agenda.items.filter(\.overdue).count
        if overdue > 0 { data["overdueCount"] = overdue }
        if status.pendingEdits > 0 || status.refusedEdits > 0 {
            data["unsynced"] = true
            data["pendingEdits"] = status.pendingEdits
            if status.refusedEdits > 0 { data["refused"] = status.refusedEdits }
        }
        return pages.page("today", data)
    }

    // MARK: Forms

    func newForm() async throws -> Response {
        let store = self.store
        let identity = try await blocking { try store.identity() }
        let catalog = try TemplateCatalog.bundled()
        let order = ["building-patrol", "public-area", "cleaning-greening", "renovation", "vacant-unit", "incident"]
        let ids = order.filter { catalog.templates[$0] != nil } + catalog.templates.keys.sorted().filter { !order.contains($0) }
        let templates: [[String: Any]] = ids.enumerated().map { index, id in
            ["id": id, "title": catalog.templates[id]?.title ?? id, "first": index == 0]
        }
        let zones = identity.device?.zones.map(\.rawValue) ?? []
        return pages.page("new-form", ["csrf": configuration.formToken, "templates": templates, "zones": zones, "hasZones": !zones.isEmpty])
    }

    func createForm(_ request: Request) async throws -> Response {
        let fields = try await posted(request).fields
        let template = fields["template"] ?? "", zoneText = fields["zone"] ?? ""
        let place = (fields["place"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !place.isEmpty else { throw PageError(.badRequest, "输入有误", "请填写巡查地点。") }
        let store = self.store
        let id = try await blocking { try store.createForm(template: template, zone: try Zone(zoneText), place: place) }
        logger.info("form opened from the page", metadata: ["form.id": "\(id)"])
        return PageRenderer.redirect("/forms/\(id.rawValue)")
    }

    func form(_ text: String) async throws -> Response {
        let store = self.store
        let (view, calendar) = try await blocking {
            (try store.form(try store.resolveID(text, type: .inspectionForm)), try store.estateCalendar())
        }
        let template = view.template.flatMap { try? TemplateCatalog.bundled().template($0) }
        let locked = view.isLocked
        func notes(_ notes: [Note]) -> [[String: Any]] { notes.map { ["author": $0.author, "text": $0.text] } }
        func row(_ key: String, label: String, guidance: String) -> [String: Any] {
            let item = view.items[key]
            let result = item?.result?.rawValue ?? "none"
            return [
                "key": key, "label": label, "guidance": guidance, "result": result,
                "isOK": result == "ok", "isDefect": result == "defect", "isNA": result == "na",
                "notes": notes(item?.notes ?? []), "photos": item?.photos ?? [],
            ]
        }
        var sections: [[String: Any]] = template?.sections.map { section in
            ["label": section.label, "items": section.items.map { row($0.key, label: $0.label, guidance: $0.guidance) }]
        } ?? []
        // Items the template does not name (another build's template version) are still shown.
        let extra = view.items.keys.sorted().filter { template?.item($0) == nil }
        if !extra.isEmpty { sections.append(["label": "其他", "items": extra.map { row($0, label: $0, guidance: "") }]) }
        var data: [String: Any] = [
            "formID": view.id.rawValue, "csrf": configuration.formToken, "title": template?.title ?? view.template ?? "巡查表",
            "place": view.place ?? "", "zone": view.zone.rawValue, "state": view.status.state.rawValue,
            "stateLabel": Labels.state(view.status.state), "sections": sections, "notes": notes(view.notes),
            "reviewNotes": notes(view.reviewNotes), "locked": locked,
            "conflicts": view.conflicts.map { ["field": "\($0.field)", "explanation": $0.explanation] as [String: Any] },
        ]
        if view.status.round > 1 { data["round"] = view.status.round }
        if let created = view.createdAt { data["created"] = Labels.localTime(created, calendar) }
        if let butler = view.butler { data["butler"] = butler }
        return pages.page("form", data)
    }

    func setResult(_ request: Request, form: String, item: String) async throws -> Response {
        let fields = try await posted(request).fields
        guard let result = ChecklistResult(rawValue: fields["result"] ?? "") else {
            throw PageError(.badRequest, "输入有误", "结果只能是 正常、有问题 或 不适用。")
        }
        let note = fields["note"].map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        let store = self.store
        let id = try await blocking {
            let id = try store.resolveID(form, type: .inspectionForm)
            try store.setResult(form: id, item: item, result: result, note: note)
            return id
        }
        return PageRenderer.redirect("/forms/\(id.rawValue)" + Self.anchor(item))
    }

    func addNote(_ request: Request, form: String) async throws -> Response {
        let fields = try await posted(request).fields
        let text = (fields["text"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw PageError(.badRequest, "输入有误", "备注是空的，未保存。") }
        let store = self.store
        let id = try await blocking {
            let id = try store.resolveID(form, type: .inspectionForm)
            _ = try store.addNote(form: id, text: text)
            return id
        }
        return PageRenderer.redirect("/forms/\(id.rawValue)")
    }

    func addPhoto(_ request: Request, form: String) async throws -> Response {
        let posted = try await posted(request)
        guard let bytes = posted.file else { throw PageError(.badRequest, "没有照片", "请先拍照或选择一张照片，再上传。") }
        // The kind comes from the bytes, not from the name the browser sent; it names the
        // temporary file, whose extension is what the store records as the photo's media type.
        guard let kind = Self.imageExtension(of: bytes) else {
            throw PageError(.unsupportedMediaType, "不是照片", "只能上传照片（JPEG、PNG、WebP 或 HEIC），未保存。")
        }
        let item = posted.fields["item"].flatMap { $0.isEmpty ? nil : $0 }
        let store = self.store
        let (id, sha) = try await blocking {
            let id = try store.resolveID(form, type: .inspectionForm)
            // attachPhoto copies the file into the blob store under its SHA-256; the upload's
            // temporary file goes whatever happens.
            let temporary = store.blobDirectory.appendingPathComponent("tmp").appendingPathComponent("ui-\(UUID().uuidString).\(kind)")
            do {
                try bytes.write(to: temporary)
            } catch {
                throw ClientError(.file, "cannot keep the uploaded photo: \(error.localizedDescription)")
            }
            defer { try? FileManager.default.removeItem(at: temporary) }
            return (id, try store.attachPhoto(form: id, file: temporary, item: item))
        }
        logger.info("photo attached from the page", metadata: ["form.id": "\(id)", "photo.sha256": "\(sha)"])
        return PageRenderer.redirect("/forms/\(id.rawValue)" + (item.map(Self.anchor) ?? ""))
    }

    func submit(_ request: Request, form: String) async throws -> Response {
        _ = try await posted(request)
        let store = self.store
        let id = try await blocking {
            let id = try store.resolveID(form, type: .inspectionForm)
            try store.submit(form: id)
            return id
        }
        return PageRenderer.redirect("/forms/\(id.rawValue)")
    }

    /// `#item-KEY`, the item's place on the form page, for a key of template characters only
    /// (anything else is left out of the redirect rather than echoed into a header).
    static func anchor(_ item: String) -> String {
        item.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) && !item.isEmpty ? "#item-\(item)" : ""
    }

    /// The file extension for an image's bytes (JPEG, PNG, WebP, HEIC/HEIF), or nil for anything else.
    static func imageExtension(of data: Data) -> String? {
        let b = [UInt8](data.prefix(12))
        if b.starts(with: [0xFF, 0xD8, 0xFF]) { return "jpg" }
        if b.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return "png" }
        if b.count == 12, b[0..<4].elementsEqual("RIFF".utf8), b[8..<12].elementsEqual("WEBP".utf8) { return "webp" }
        if b.count == 12, b[4..<8].elementsEqual("ftyp".utf8),
           ["heic", "heix", "mif1", "msf1", "heif"].contains(String(decoding: b[8..<12], as: UTF8.self)) { return "heic" }
        return nil
    }

    /// A photo from the device's blob store, by its SHA-256 (64 lowercase hex digits, nothing else).
    func photo(_ sha: String) async throws -> Response {
        guard sha.count == 64, sha.allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) }) else {
            throw PageError(.notFound, "找不到照片", "没有这张照片。")
        }
        let url = store.blobURL(sha)
        guard let data = try await BlockingIO.run({ try? Data(contentsOf: url) }) else {
            throw PageError(.notFound, "找不到照片", "这张照片还不在本机（同步后会下载）。")
        }
        let type = data.starts(with: [0xFF, 0xD8]) ? "image/jpeg" : data.starts(with: [0x89, 0x50, 0x4E, 0x47]) ? "image/png" : "application/octet-stream"
        return Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "private, max-age=86400", HeaderName("X-Content-Type-Options")!: "nosniff",
                HeaderName("Cross-Origin-Resource-Policy")!: "same-origin",
            ],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: Callbacks

    func callback(_ text: String) async throws -> Response {
        let store = self.store
        let (order, record, calendar) = try await blocking {
            let id = try store.resolveID(text, type: .workOrder)
            return (try store.workOrder(id), try store.callbacks(workOrder: id), try store.estateCalendar())
        }
        let attempts: [[String: Any]] = (record?.attempts ?? []).map { attempt in
            var row: [String: Any] = [
                "at": Labels.localTime(attempt.at, calendar), "channel": Labels.channel[attempt.channel.rawValue] ?? attempt.channel.rawValue,
                "reached": attempt.reached ? "联系上" : "未联系上", "author": attempt.author,
            ]
            if let satisfaction = attempt.satisfaction { row["satisfaction"] = satisfaction == .satisfied ? "满意" : "不满意" }
            if let note = attempt.note { row["note"] = note }
            return row
        }
        var data: [String: Any] = [
            "id": order.id.rawValue, "csrf": configuration.formToken, "place": order.place ?? "", "attempts": attempts,
            "category": order.category?.rawValue ?? "", "outcome": Labels.outcome[record?.outcome.rawValue ?? "pending"] ?? "待回访",
        ]
        if let description = order.description { data["description"] = description }
        return pages.page("callback", data)
    }

    func logCallback(_ request: Request, order: String) async throws -> Response {
        let fields = try await posted(request).fields
        guard let channel = CallbackChannel(rawValue: fields["channel"] ?? "") else {
            throw PageError(.badRequest, "输入有误", "请选择回访方式。")
        }
        guard let reachedText = fields["reached"], ["yes", "no"].contains(reachedText) else {
            throw PageError(.badRequest, "输入有误", "请选择是否联系上住户。")
        }
        let satisfactionText = fields["satisfaction"] ?? ""
        let satisfaction = Satisfaction(rawValue: satisfactionText)
        guard satisfactionText.isEmpty || satisfaction != nil else { throw PageError(.badRequest, "输入有误", "满意度只能是 满意 或 不满意。") }
        let note = fields["note"].map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        let store = self.store
        let id = try await blocking {
            let id = try store.resolveID(order, type: .workOrder)
            try store.logCallback(workOrder: id, channel: channel, reached: reachedText == "yes", satisfaction: satisfaction, note: note)
            return id
        }
        return PageRenderer.redirect("/workorders/\(id.rawValue)/callback")
    }

    // MARK: Sync

    func syncPage() async throws -> Response {
        let store = self.store
        let (status, lastError, refused, calendar) = try await blocking {
            (try store.status(), try store.lastSyncError(), try store.refusedEdits(), try store.estateCalendar())
        }
        let state = sync.current
        var data: [String: Any] = [
            "csrf": configuration.formToken, "pendingEdits": status.pendingEdits, "pendingPhotoBytes": Labels.bytes(status.pendingPhotoBytes),
            "lastSync": status.lastSync.map { Labels.localTime($0, calendar) } ?? "从未同步", "server": status.server ?? "未设置",
            "running": state.running, "progress": Labels.progress(state),
            "refused": refused.map { ["code": $0.code.rawValue, "record": $0.record.rawValue, "message": $0.message, "final": $0.isFinal] as [String: Any] },
        ]
        // The store keeps the last failure for `butler doctor`; the page shows it only while no sync succeeded since.
        if let lastError, status.lastSync.map({ lastError.at > $0 }) ?? true { data["lastError"] = "\(Labels.localTime(lastError.at, calendar)) \(lastError.code)：\(lastError.message)" }
        if !state.running, state.finishedAt != nil {
            let (text, good) = Labels.outcome(of: state)
            data["outcome"] = text
            data["outcomeClass"] = good ? "banner good" : "flash"
        }
        return pages.page("sync", data)
    }

    func startSync(_ request: Request) async throws -> Response {
        _ = try await posted(request)
        sync.start()
        return PageRenderer.redirect("/sync")
    }

    func syncStatus() -> Response {
        let state = sync.current
        var object: [String: JSONValue] = ["running": .bool(state.running), "progress": .string(Labels.progress(state))]
        if let failure = state.failure { object["error"] = ["code": .string(failure.code.rawValue), "message": .string(failure.message)] }
        if let report = state.report { object["report"] = report.jsonValue }
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: JSONValue.object(object).canonicalString)))
    }
}
