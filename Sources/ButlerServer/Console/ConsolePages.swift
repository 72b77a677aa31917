import ButlerModel
import Foundation
import Hummingbird
import Mustache

/// The console's HTML: swift-mustache templates shipped as resources of ButlerServer
/// (`Console/Templates/*.mustache`, every page inheriting `layout`), rendered from plain
/// dictionaries the functions below build from ButlerModel's resolved records. Mustache escapes
/// every `{{value}}`, so nothing a device wrote can become markup.
/// A header name (HTTPTypes' `HTTPField.Name`, reached through Hummingbird's `HTTPFields`).
typealias HeaderName = HTTPFields.Element.Name

struct ConsolePages: Sendable {
    let library: MustacheLibrary
    let calendar: EstateCalendar
    let catalog: TemplateCatalog?

    /// Loads the templates from the module's bundle (read once, when the router is built).
    static func load(calendar: EstateCalendar) throws -> ConsolePages {
        guard let directory = Bundle.module.url(forResource: "Templates", withExtension: nil) else {
            throw ConfigurationError("the console's templates are missing from the ButlerServer bundle")
        }
        var library = MustacheLibrary()
        for name in ["layout", "login", "overview", "form", "overdue", "devices", "record", "error"] {
            let text = try String(contentsOf: directory.appendingPathComponent("\(name).mustache"), encoding: .utf8)
            try library.register(text, named: name)
        }
        return ConsolePages(library: library, calendar: calendar, catalog: try? TemplateCatalog.bundled())
    }

    /// An HTML response of page `name`; every page forbids framing, caching and foreign resources.
    func render(_ name: String, _ context: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let html = library.render(Self.flagged(context), withTemplate: name) ?? "<!DOCTYPE html><p>page \(name) missing</p>"
        return Response(status: status, headers: Self.headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    static let headers: HTTPFields = [
        .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
        .contentSecurityPolicy: "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        HeaderName("X-Frame-Options")!: "DENY", HeaderName("X-Content-Type-Options")!: "nosniff",
        HeaderName("Referrer-Policy")!: "same-origin",
    ]

    /// Adds `has_KEY` beside every array, so templates can show a heading only when there are rows.
    static func flagged(_ context: [String: Any]) -> [String: Any] {
        var out: [String: Any] = [:]
        for (key, value) in context {
            if let array = value as? [[String: Any]] {
                out[key] = array.map(flagged)
                out["has_" + key] = !array.isEmpty
            } else if let array = value as? [String] {
                out[key] = array
                out["has_" + key] = !array.isEmpty
            } else if let dict = value as? [String: Any] {
                out[key] = flagged(dict)
            } else {
                out[key] = value
            }
        }
        return out
    }

    // MARK: Labels

    func time(_ date: Date?) -> String {
        guard let date else { return "—" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: calendar.utcOffsetSeconds)
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }

    static func stateLabel(_ state: FormState) -> String {
        switch state {
        case .draft: "草稿"
        case .submitted: "待审核"
        case .reviewed: "已审核"
        case .closed: "已关闭"
        }
    }

    static func resultLabel(_ result: ChecklistResult) -> (text: String, css: String) {
        switch result {
        case .ok: ("合格", "ok")
        case .defect: ("不合格", "defect")
        case .na: ("不适用", "na")
        }
    }

    static func ruleLabel(_ rule: ResolutionRule) -> String {
        switch rule {
        case .defectWins: "不合格优先"
        case .notesKeepAll: "备注全部保留"
        case .addWins: "添加优先"
        case .statusMonotone: "状态只进不退"
        case .lateEdit: "提交后的修改"
        case .callbackByTime: "回访按时间"
        case .unresolvedWins: "未解决优先"
        case .appendOnly: "只追加"
        case .lastWriterWins: "最后写入优先"
        case .unionOfSnapshots: "快照合并"
        }
    }

    static func escalationLabel(_ kind: Escalation.Kind) -> String {
        switch kind {
        case .repairNotStarted: "维修 2 天内未开工"
        case .complaintEscalated: "投诉升级为重大"
        case .complaintFixOverdue: "投诉整改逾期"
        case .rectificationOverdue: "整改通知逾期"
        case .callbackOverdue: "回访逾期"
        }
    }

    static func typeLabel(_ type: RecordType) -> String {
        switch type {
        case .inspectionForm: "巡检表单"
        case .workOrder: "维修工单"
        case .complaint: "投诉"
        case .photo: "照片"
        case .callback: "回访"
        case .rainDay: "雨天记录"
        case .resident: "住户"
        }
    }

    /// Where a record's page is: a form's own page, any other record's generic page.
    static func link(_ id: RecordID, type: RecordType?) -> String {
        (type == .inspectionForm ? "/console/forms/" : "/console/records/") + id.rawValue
    }

    /// A value as a person reads it: a checklist result by its label, a status by its state and round.
    static func describe(_ value: JSONValue, field: FieldPath? = nil) -> String {
        if let s = value.stringValue {
            if field?.segments.last == "result", let result = ChecklistResult(rawValue: s) { return resultLabel(result).text }
            return s
        }
        if let result = value["result"]?.stringValue, let r = ChecklistResult(rawValue: result) { return resultLabel(r).text }
        if let state = value["state"]?.stringValue, let round = value["round"]?.intValue {
            return "\(FormState(rawValue: state).map(stateLabel) ?? state)（第 \(round) 轮）"
        }
        if let text = value["text"]?.stringValue { return text }
        return value.canonicalString
    }

    // MARK: Page contexts

    /// The header's user block (name, zones, the session's CSRF token for the sign-out form).
    func userContext(_ signedIn: ConsoleSessions.SignedIn) -> [String: Any] {
        ["name": signedIn.user.name, "zones": signedIn.user.zones.map(\.rawValue).joined(separator: "、"), "csrf": signedIn.session.csrf]
    }

    func title(of form: InspectionForm) -> String {
        guard let id = form.template else { return "巡检表单" }
        return catalog?.templates[id]?.title ?? id
    }

    /// One row of the overview.
    func overviewRow(_ form: InspectionForm) -> [String: Any] {
        var row: [String: Any] = [
            "id": form.id.rawValue, "title": title(of: form), "place": form.place ?? "—", "butler": form.butler ?? "—",
            "created": time(form.createdAt), "state": Self.stateLabel(form.status.state),
        ]
        let late = form.conflicts.filter { $0.rule == .lateEdit }.count
        let conflicts = form.conflicts.count - late
        let defects = form.items.values.filter { $0.result == .defect }.count
        if conflicts > 0 { row["conflicts"] = conflicts }
        if late > 0 { row["lateEdits"] = late }
        if defects > 0 { row["defects"] = defects }
        return row
    }

    /// The form page: items by the template's sections (keys the template does not know last),
    /// conflicts with their rule's explanation, late edits beside what was submitted.
    func formContext(_ form: InspectionForm, csrf: String) -> [String: Any] {
        let template = form.template.flatMap { catalog?.templates[$0] }
        let lateFields = Set(form.conflicts.filter { $0.rule == .lateEdit }.map(\.field))
        func itemRow(_ key: String, label: String) -> [String: Any] {
            let item = form.items[key]
            var row: [String: Any] = [
                "key": key, "label": label,
                "notes": (item?.notes ?? []).map { ["text": $0.text, "author": $0.author] as [String: Any] },
                "photos": item?.photos ?? [],
            ]
            if let result = item?.result {
                let label = Self.resultLabel(result)
                row["result"] = ["text": label.text, "css": label.css]
            }
            if lateFields.contains(where: { $0.segments.count >= 2 && $0.segments[0] == "items" && $0.segments[1] == key }) { row["late"] = true }
            return row
        }
        var sections: [[String: Any]] = []
        var shown = Set<String>()
        for section in template?.sections ?? [] {
            sections.append(["label": section.label, "items": section.items.map { itemRow($0.key, label: $0.label) }])
            shown.formUnion(section.items.map(\.key))
        }
        let others = form.items.keys.filter { !shown.contains($0) }.sorted()
        if !others.isEmpty { sections.append(["label": "其他检查项", "items": others.map { itemRow($0, label: $0) }]) }
        let conflicts = form.conflicts.filter { $0.rule != .lateEdit }.map { conflict -> [String: Any] in
            [
                "field": conflict.field.rawValue, "rule": conflict.rule.rawValue, "ruleLabel": Self.ruleLabel(conflict.rule),
                "explanation": conflict.explanation,
                "values": conflict.values.map { ["value": Self.describe($0.value, field: conflict.field), "author": $0.author] as [String: Any] },
            ]
        }
        let late = form.conflicts.filter { $0.rule == .lateEdit }.map { conflict -> [String: Any] in
            [
                "field": conflict.field.rawValue, "explanation": conflict.explanation,
                "current": conflict.values.isEmpty ? "（已删除）" : conflict.values.map { "\(Self.describe($0.value, field: conflict.field))（\($0.author)）" }.joined(separator: "、"),
                "submitted": conflict.submitted.isEmpty ? "（无）" : conflict.submitted.map { Self.describe($0, field: conflict.field) }.joined(separator: "、"),
            ]
        }
        let state = form.status.state
        return [
            "title": title(of: form), "id": form.id.rawValue, "zone": form.zone.rawValue, "place": form.place ?? "—",
            "butler": form.butler ?? "—", "created": time(form.createdAt), "round": form.status.round, "state": Self.stateLabel(state),
            "notes": form.notes.map { ["text": $0.text, "author": $0.author, "at": time($0.at)] as [String: Any] },
            "reviewNotes": form.reviewNotes.map { ["text": $0.text, "author": $0.author, "at": time($0.at)] as [String: Any] },
            "sections": sections, "conflicts": conflicts, "lateEdits": late, "csrf": csrf,
            "canReview": state == .submitted, "canClose": state == .reviewed, "canReopen": state >= .submitted,
        ]
    }
}
