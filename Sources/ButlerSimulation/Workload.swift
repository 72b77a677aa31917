import ButlerClient
import ButlerModel
import Foundation

/// A butler's day, one action at a time: forms from templates, results and notes, submit;
/// work orders and their callbacks; complaints; and a supervisor's reviews, reopens and closes.
/// Honest mistakes included: editing a submitted form, reviewing on a butler's handheld, a
/// callback before the repair is done. The handheld refuses those at once (the caller counts
/// them); whatever it accepts is an edit the server must accept.
enum Workload {
    static let results: [ChecklistResult] = [.ok, .ok, .ok, .ok, .defect, .na]
    static let catalog = try! TemplateCatalog.bundled()

    static func step(_ device: Device, decisions: DecisionSource, now: Date) throws {
        let store = device.store
        let zone = decisions.draw { $0.pick(device.zones) }
        // A person looks at a few of the forms on the handheld, not all of them (drawn as
        // `pick(recordIDs(of:))` would, without reading every id).
        let count = try store.recordCount(of: .inspectionForm)
        let picks = (0..<min(count, 4)).map { _ in decisions.draw { $0.below(count) } }
        let forms = try store.forms(try store.recordIDs(of: .inspectionForm, at: picks).compactMap { $0 })
            .filter { device.zones.contains($0.zone) }
        let drafts = forms.filter { $0.status.state == .draft }
        let roll = decisions.draw { $0.unit() }
        if device.role == .supervisor, roll < 0.5 {
            let submitted = forms.filter { $0.status.state == .submitted }
            let reviewed = forms.filter { $0.status.state == .reviewed }
            let choice = decisions.draw { $0.unit() }
            if choice < 0.6, !submitted.isEmpty {
                try store.review(form: decisions.draw { $0.pick(submitted) }.id, note: decisions.draw { $0.chance(0.5) } ? "复核" : nil)
            } else if choice < 0.8, !reviewed.isEmpty {
                try store.close(form: decisions.draw { $0.pick(reviewed) }.id)
            } else if !reviewed.isEmpty {
                try store.reopen(form: decisions.draw { $0.pick(reviewed) }.id)
            } else {
                try butlerStep(device, zone: zone, forms: forms, drafts: drafts, decisions: decisions)
            }
            return
        }
        try butlerStep(device, zone: zone, forms: forms, drafts: drafts, decisions: decisions)
    }

    /// Takes a photo: a small JPEG-looking file of seeded bytes, dated by the device's clock.
    static func takePhoto(_ device: Device, decisions: DecisionSource) throws -> URL {
        let folder = device.home.appendingPathComponent("camera")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let (size, words) = decisions.draw { d in (256 + d.below(4096), (0..<8).map { _ in d.next() }) }
        var bytes: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0]
        while bytes.count < size { bytes += words.flatMap { w in (0..<8).map { UInt8(truncatingIfNeeded: w >> ($0 * 8)) } } }
        let file = folder.appendingPathComponent("IMG_\(words[0] % 100_000).jpg")
        try Data(bytes.prefix(size)).write(to: file)
        // The photo is dated by its file; the device's clock, not the machine's, took it.
        try FileManager.default.setAttributes([.modificationDate: device.clock.now()], ofItemAtPath: file.path)
        return file
    }

    static func butlerStep(_ device: Device, zone: Zone, forms: [InspectionForm], drafts: [InspectionForm], decisions: DecisionSource) throws {
        let store = device.store
        let roll = decisions.draw { $0.unit() }
        // A new form now and then, and whenever there is no draft to work on.
        if roll < 0.12 || (drafts.isEmpty && roll < 0.70) {
            let template = decisions.draw { $0.pick(World.templates) }
            _ = try store.createForm(template: template, zone: zone, place: "楼栋 \(decisions.draw { $0.below(20) })")
            return
        }
        switch roll {
        case ..<0.55:
            let form = decisions.draw { $0.pick(drafts) }
            let items = form.template.flatMap { catalog.templates[$0] }?.items.map(\.key) ?? []
            guard !items.isEmpty else { return }
            let (item, result, withNote) = decisions.draw { d in (d.pick(items), d.pick(results), d.chance(0.2)) }
            try store.setResult(form: form.id, item: item, result: result, note: withNote ? "记录" : nil)
        case ..<0.58:
            let form = decisions.draw { $0.pick(drafts) }
            _ = try store.addNote(form: form.id, text: "巡查备注")
        case ..<0.62:
            // Evidence: a photo of an item, uploaded at the next sync.
            let form = decisions.draw { $0.pick(drafts) }
            let items = form.template.flatMap { catalog.templates[$0] }?.items.map(\.key) ?? []
            guard !items.isEmpty else { return }
            let item = decisions.draw { $0.pick(items) }
            try store.attachPhoto(form: form.id, file: try takePhoto(device, decisions: decisions), item: item)
        case ..<0.70:
            let form = decisions.draw { $0.pick(drafts) }
            if !form.items.isEmpty { try store.submit(form: form.id) }
        case ..<0.74:
            // An honest mistake: an edit to a form already submitted.
            let submitted = forms.filter { $0.status.state != .draft }
            guard !submitted.isEmpty else { return }
            let form = decisions.draw { $0.pick(submitted) }
            try store.setResult(form: form.id, item: form.items.keys.sorted().first ?? "hygiene", result: .ok)
        case ..<0.80:
            _ = try store.createWorkOrder(zone: zone, place: "B1 车库", category: decisions.draw { $0.pick(RepairCategory.allCases) }, description: "漏水")
        case ..<0.90:
            let count = try store.recordCount(of: .workOrder)
            guard count > 0, let id = try store.recordID(of: .workOrder, at: decisions.draw({ $0.below(count) })) else { return }
            let order = try store.workOrder(id)
            switch order.status {
            case .reported: try store.startWorkOrder(order.id)
            case .started: try store.completeWorkOrder(order.id)
            case .completed:
                let (reached, satisfied) = decisions.draw { d in (d.chance(0.7), d.chance(0.7)) }
                _ = try store.logCallback(
                    workOrder: order.id, channel: .phone, reached: reached, satisfaction: reached ? (satisfied ? .satisfied : .unsatisfied) : nil, note: nil)
            }
        default:
            let count = try store.recordCount(of: .complaint)
            let picked = try count == 0 ? nil : store.recordID(of: .complaint, at: decisions.draw { $0.below(count) }).map(store.complaint)
            let choice = decisions.draw { $0.unit() }
            if choice < 0.3 || picked == nil || picked?.status == .closed {
                _ = try store.createComplaint(zone: zone, place: "7号楼", level: decisions.draw { $0.pick(ComplaintLevel.allCases) }, description: "噪音")
            } else if let complaint = picked {
                if complaint.fixedAt == nil {
                    _ = try store.fixComplaint(complaint.id)
                } else {
                    let (reached, satisfied) = decisions.draw { d in (d.chance(0.8), d.chance(0.6)) }
                    _ = try store.logComplaintCallback(
                        complaint.id, channel: .visit, reached: reached, satisfaction: reached ? (satisfied ? .satisfied : .unsatisfied) : nil, note: nil)
                }
            }
        }
    }
}
