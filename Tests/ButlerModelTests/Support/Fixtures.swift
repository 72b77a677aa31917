import ButlerModel
import Foundation

/// Small helpers that keep the tests about the rules rather than about plumbing.
enum Fixtures {
    static let zone = try! Zone("east-3")
    static let template = try! TemplateCatalog.bundled().template("building-patrol")
    /// 2026-11-23 09:00 in the estate (UTC+8).
    static let morning = Timestamp.parse("2026-11-23T01:00:00.000Z")!

    static func author(_ replica: String, _ name: String? = nil) -> Author {
        try! Author(replica: ReplicaID(replica), name: name ?? replica)
    }

    static func stamp(_ author: Author, _ millis: Int64, _ logical: UInt32 = 0) -> EditStamp {
        EditStamp(author: author, time: HLCTimestamp(millis: millis, logical: logical))
    }

    static func at(_ minutes: Double) -> Date { morning.addingTimeInterval(minutes * 60) }

    static func id(_ text: String) -> RecordID { try! RecordID(text) }

    static func newForm(_ id: String = "form-1", by author: Author = author("A", "李管家")) -> RecordState {
        try! InspectionForm.create(
            id: RecordID(id), zone: zone, template: template, place: "3号楼2单元 楼梯间", at: morning,
            stamp: stamp(author, 1_000))
    }

    static func sha(_ seed: String) -> String { SHA256Hasher.hex(of: Array(seed.utf8)) }
}

/// One replica in a simulation: its records and its hybrid logical clock.
struct SimReplica {
    let author: Author
    var records: [RecordID: RecordState] = [:]
    var clock = HybridLogicalClock()
    var wall: Int64

    init(_ author: Author, wall: Int64) {
        self.author = author
        self.wall = wall
    }

    mutating func stamp(_ rng: inout SplitMix64) -> EditStamp {
        // Wall clocks drift by up to ±1 day between devices and may stand still.
        wall += Int64.random(in: -5_000...60_000, using: &rng)
        return EditStamp(author: author, time: clock.tick(now: Date(timeIntervalSince1970: Double(wall) / 1000)))
    }

    mutating func receive(_ delta: RecordState) throws {
        for entries in delta.fields.values {
            for entry in entries.values { clock.observe(entry.time, now: Date(timeIntervalSince1970: Double(wall) / 1000)) }
        }
        if var existing = records[delta.id] {
            try existing.merge(delta)
            records[delta.id] = existing
        } else {
            records[delta.id] = delta
        }
    }
}

/// Random edits of every kind on every record type, as a butler's or supervisor's device makes them.
enum RandomEdits {
    static let items = ["water-meter", "stairwell-lights", "fire-door"]
    static let photos = (0..<2).map { Fixtures.sha("photo-\($0)") }

    /// Makes one random edit on `replica`, returning its delta (nil when the chosen edit was
    /// refused by the rules, e.g. editing a submitted form).
    static func edit(_ replica: inout SimReplica, _ rng: inout SplitMix64, counter: inout Int) -> RecordState? {
        let stamp = replica.stamp(&rng)
        let now = Date(timeIntervalSince1970: Double(replica.wall) / 1000)
        let known = replica.records.values.sorted { $0.id < $1.id }
        if known.isEmpty || rng.chance(0.08) {
            counter += 1
            let zone = Fixtures.zone
            // Forms, the main record, are created three times as often as each other type.
            switch Int.random(in: 0..<9, using: &rng) {
            case 0, 7, 8:
                let delta = try! InspectionForm.create(
                    id: RecordID("form-\(counter)"), zone: zone, template: Fixtures.template, place: "楼梯间 \(counter)", at: now, stamp: stamp)
                try! replica.receive(delta)
                return delta
            case 1:
                let delta = try! WorkOrder.create(
                    id: RecordID("wo-\(counter)"), zone: zone, place: "B1 车库", category: rng.pick(RepairCategory.allCases),
                    description: "漏水", reportedAt: now, stamp: stamp)
                try! replica.receive(delta)
                return delta
            case 2:
                let delta = try! Complaint.create(
                    id: RecordID("cp-\(counter)"), zone: zone, place: "5号楼", level: rng.pick(ComplaintLevel.allCases),
                    description: "噪音", reportedAt: now, stamp: stamp)
                try! replica.receive(delta)
                return delta
            case 3:
                // The same picture imported on several devices is one photo record.
                let sha = rng.pick(photos)
                var state = RecordState(id: try! Photo.recordID(sha256: sha, zone: zone), type: .photo, zone: zone)
                if let existing = replica.records[state.id] { state = existing }
                let delta = try! Photo.record(
                    &state, sha256: sha, bytes: 1_000, mediaType: "image/jpeg", takenAt: now, caption: rng.chance(0.5) ? "证据 \(counter)" : nil,
                    attachTo: RecordID("form-\(Int.random(in: 1...3, using: &rng))"), item: rng.pick(items), stamp: stamp)
                try! replica.receive(delta)
                return delta
            case 4:
                // Several devices record rain on the same day: one record per zone and day.
                let day = EstateCalendar.Day(ordinal: EstateCalendar().day(of: Fixtures.morning).ordinal - Int64.random(in: 0...2, using: &rng))
                let id = try! RainDay.recordID(zone: zone, day: day)
                var state = replica.records[id] ?? RecordState(id: id, type: .rainDay, zone: zone)
                let delta = try! RainDay.report(&state, note: rng.chance(0.3) ? "大雨" : nil, at: now, stamp: stamp)
                replica.records[id] = state
                return delta
            case 5:
                let delta = try! Resident.create(
                    id: RecordID("res-\(counter)"), zone: zone, profile: Resident.Profile(household: "5号楼 \(300 + counter)", occupied: rng.chance(0.8)),
                    note: nil, at: now, stamp: stamp)
                try! replica.receive(delta)
                return delta
            default:
                // Several devices open the callback record of the same subject: same id, merged. A
                // device opens it only when it does not hold it yet (as ClientStore.logCallback does):
                // opening it again would write its first dot a second time (refused as dot-reused).
                let subject = try! RecordID("wo-\(Int.random(in: 1...3, using: &rng))")
                guard replica.records[try! CallbackRecord.recordID(for: subject)] == nil else { return nil }
                let delta = try! CallbackRecord.create(subject: subject, subjectType: .workOrder, zone: zone, stamp: stamp)
                try! replica.receive(delta)
                return delta
            }
        }
        var state = rng.pick(known)
        let delta: RecordState?
        switch state.type {
        case .inspectionForm:
            let item = rng.pick(items)
            switch Int.random(in: 0..<14, using: &rng) {
            case 0, 1, 2: delta = try? InspectionForm.setResult(&state, item: item, result: rng.pick(ChecklistResult.allCases), at: now, stamp: stamp)
            case 3: delta = try? InspectionForm.addNote(&state, item: rng.chance(0.7) ? item : nil, text: "note \(counter)", at: now, stamp: stamp)
            case 4: delta = try? InspectionForm.attachPhoto(&state, item: item, sha256: rng.pick(photos), stamp: stamp)
            case 5:
                // Detach a photo this replica sees attached, when there is one.
                let attached = state.fields.keys.filter { $0.segments.count == 4 && $0.segments[2] == "photos" }.sorted()
                if let path = attached.isEmpty ? nil : rng.pick(attached) {
                    delta = try? InspectionForm.detachPhoto(&state, item: String(path.segments[1]), sha256: String(path.segments[3]), stamp: stamp)
                } else {
                    delta = nil
                }
            case 6: delta = rng.chance(0.5) ? try? InspectionForm.submit(&state, stamp: stamp) : nil
            case 7: delta = try? InspectionForm.review(&state, note: rng.chance(0.5) ? "复核" : nil, at: now, stamp: stamp)
            case 8: delta = rng.chance(0.6) ? try? InspectionForm.reopen(&state, stamp: stamp) : try? InspectionForm.close(&state, stamp: stamp)
            case 9: delta = try? InspectionForm.setField(&state, rng.chance(0.5) ? "weather" : "place", to: "v\(counter)", stamp: stamp)
            case 10:
                // A notice is raised from a defect (001 §4.3.1.1): record it, then raise the notice, in one delta.
                var copy = state
                if var d = try? InspectionForm.setResult(&copy, item: item, result: .defect, at: now, stamp: stamp),
                    let notice = try? InspectionForm.addNotice(
                        &copy, item: item, party: rng.pick(ResponsibleParty.allCases), description: "整改", deadline: now.addingTimeInterval(86_400),
                        at: now, stamp: stamp),
                    (try? d.merge(notice.delta)) != nil
                {
                    state = copy
                    delta = d
                } else {
                    delta = nil
                }
            case 12:
                // Evidence on a notice, at any form status.
                let notices = (try? InspectionForm(state).notices) ?? []
                delta = notices.isEmpty ? nil : try? InspectionForm.attachNoticePhoto(
                    &state, notice: rng.pick(notices).id, stage: rng.pick(RectificationNotice.Stage.allCases), sha256: rng.pick(photos), stamp: stamp)
            case 13:
                // Detach a notice's evidence photo this replica sees, when there is one.
                let attached = state.fields.keys.filter { $0.segments.count == 5 && $0.segments[0] == "notices" && !state.siblings($0).isEmpty }.sorted()
                if let path = attached.isEmpty ? nil : rng.pick(attached), let stage = RectificationNotice.Stage(rawValue: String(path.segments[3])) {
                    delta = try? InspectionForm.detachNoticePhoto(&state, notice: String(path.segments[1]), stage: stage, sha256: String(path.segments[4]), stamp: stamp)
                } else {
                    delta = nil
                }
            default:
                let notices = (try? InspectionForm(state).notices) ?? []
                delta = notices.isEmpty ? nil : try? InspectionForm.setNoticeStatus(&state, notice: rng.pick(notices).id, to: rng.pick([.rectified, .verified]), stamp: stamp)
            }
        case .workOrder:
            delta = rng.chance(0.5) ? try? WorkOrder.start(&state, at: now, stamp: stamp) : try? WorkOrder.complete(&state, at: now, stamp: stamp)
        case .complaint:
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: delta = try? Complaint.recordFix(&state, at: now, note: nil, stamp: stamp).delta
            case 1, 2:
                let reached = rng.chance(0.7)
                delta = try? Complaint.logCallback(
                    &state, at: now, channel: rng.pick(CallbackChannel.allCases), reached: reached,
                    satisfaction: reached ? rng.pick(Satisfaction.allCases) : nil, note: nil, stamp: stamp).delta
            default: delta = try? Complaint.approve(&state, at: now, note: nil, stamp: stamp)
            }
        case .callback where rng.chance(0.1):
            delta = try? CallbackRecord.closeUnreachable(&state, at: now, note: nil, stamp: stamp)
        case .callback:
            let reached = rng.chance(0.6)
            delta = try? CallbackRecord.logAttempt(
                &state, at: Date(timeIntervalSince1970: Double(Fixtures.morning.timeIntervalSince1970) + Double(Int.random(in: 0...5, using: &rng) * 3600)),
                channel: rng.pick(CallbackChannel.allCases), reached: reached,
                satisfaction: reached ? rng.pick(Satisfaction.allCases) : nil, note: nil, stamp: stamp).delta
        case .rainDay:
            // Another report, or a withdrawal of this replica's own reports (a mistake).
            delta = rng.chance(0.6)
                ? try? RainDay.report(&state, note: nil, at: now, stamp: stamp)
                : try? RainDay.withdraw(&state, replicas: [stamp.author.replica], stamp: stamp)
        case .photo:
            delta = nil
        case .resident:
            switch Int.random(in: 0..<4, using: &rng) {
            case 0:
                delta = try? Resident.update(
                    &state, profile: Resident.Profile(phone: "1380013800\(counter % 10)", occupied: rng.chance(0.8)), note: nil, at: now, stamp: stamp)
            case 1: delta = try? Resident.update(&state, profile: Resident.Profile(), note: "走访 \(counter)", at: now, stamp: stamp)
            default:
                // Visits from every device, dated when they happened (at most when logged).
                delta = try? Resident.logVisit(
                    &state, at: now.addingTimeInterval(-Double(Int.random(in: 0...72, using: &rng) * 3600)), channel: rng.pick(Resident.Channel.allCases),
                    note: nil, stamp: stamp).delta
            }
        }
        if delta != nil { replica.records[state.id] = state }
        return delta
    }
}
