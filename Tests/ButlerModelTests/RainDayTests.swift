import ButlerModel
import Foundation
import Testing

/// Rain days as synced records and the leak callback rule (004 §三: a leak repaired under warranty
/// is called back after the first rainy day following the repair).
@Suite("Rain days and the estate calendar")
struct RainDayTests {
    let desk = Fixtures.author("desk", "前台")
    let li = Fixtures.author("li", "李管家")
    let wang = Fixtures.author("wang", "王管家")
    let east3 = try! Zone("east-3")
    let east4 = try! Zone("east-4")

    func day(_ text: String) -> EstateCalendar.Day { try! EstateCalendar.Day(text) }

    func leak(completedAt: String, zone: Zone? = nil) throws -> WorkOrder {
        var state = try WorkOrder.create(
            id: Fixtures.id("wo-leak"), zone: zone ?? east3, place: "5号楼 301", category: .leak, description: "天花渗水",
            reportedAt: Timestamp.parse("2026-11-20T00:00:00.000Z")!, stamp: Fixtures.stamp(desk, 1_000))
        try WorkOrder.complete(&state, at: Timestamp.parse(completedAt)!, stamp: Fixtures.stamp(desk, 2_000))
        return try WorkOrder(state)
    }

    /// A rain-day record of `zone` and `day` with one report by `author`.
    func rain(_ text: String, zone: Zone? = nil, by author: Author? = nil, millis: Int64 = 5_000) throws -> RecordState {
        var state = RecordState(id: try RainDay.recordID(zone: zone ?? east3, day: day(text)), type: .rainDay, zone: zone ?? east3)
        try RainDay.report(&state, note: nil, at: Fixtures.at(Double(millis) / 60_000), stamp: Fixtures.stamp(author ?? li, millis))
        return state
    }

    @Test("004 §三 leak: the callback is due at the end of the first rain day recorded for the zone after completion, estate local time")
    func leakDueAfterFirstRain() throws {
        // Completed 2026-11-23 10:00 +08:00; rain recorded on the 25th and the 27th.
        let order = try leak(completedAt: "2026-11-23T02:00:00.000Z")
        let calendar = EstateCalendar().withRain(from: [try rain("2026-11-27"), try rain("2026-11-25"), try rain("2026-11-22")])
        #expect(Deadlines.callbackDue(for: order, calendar: calendar).map(Timestamp.format) == "2026-11-25T16:00:00.000Z")
        #expect(!Deadlines.waitsForRain(order, calendar: calendar))
    }

    @Test("004 §三 leak: rain on the day of completion does not count; with no later rain the callback waits for rain")
    func rainOnCompletionDay() throws {
        let order = try leak(completedAt: "2026-11-23T02:00:00.000Z")
        let sameDay = EstateCalendar().withRain(from: [try rain("2026-11-23")])
        #expect(Deadlines.callbackDue(for: order, calendar: sameDay) == nil)
        #expect(Deadlines.waitsForRain(order, calendar: sameDay))
        let nextDay = EstateCalendar().withRain(from: [try rain("2026-11-23"), try rain("2026-11-24")])
        #expect(Deadlines.callbackDue(for: order, calendar: nextDay).map(Timestamp.format) == "2026-11-24T16:00:00.000Z")
        // Other categories never wait for rain.
        var general = try WorkOrder.create(
            id: Fixtures.id("wo-g"), zone: east3, place: "p", category: .general, description: nil, reportedAt: Fixtures.morning,
            stamp: Fixtures.stamp(desk, 1_000))
        try WorkOrder.complete(&general, at: Fixtures.at(60), stamp: Fixtures.stamp(desk, 2_000))
        #expect(!Deadlines.waitsForRain(try WorkOrder(general), calendar: EstateCalendar()))
    }

    @Test("004 §三 leak, per zone: rain recorded in another zone does not make a leak callback due")
    func perZone() throws {
        let order = try leak(completedAt: "2026-11-23T02:00:00.000Z")
        let elsewhere = EstateCalendar().withRain(from: [try rain("2026-11-24", zone: east4)])
        #expect(Deadlines.callbackDue(for: order, calendar: elsewhere) == nil)
        #expect(elsewhere.rainDays(in: east4) == [day("2026-11-24")])
        #expect(elsewhere.rainDays(in: east3).isEmpty)
        let both = elsewhere.withRain(from: [try rain("2026-11-26")])
        #expect(Deadlines.callbackDue(for: order, calendar: both).map(Timestamp.format) == "2026-11-26T16:00:00.000Z")
        // Escalation reads the same per-zone calendar: overdue only once that day has ended.
        let states = [try leakState(completedAt: "2026-11-23T02:00:00.000Z")]
        #expect(Escalation.evaluate(states, now: Timestamp.parse("2026-12-10T00:00:00.000Z")!, calendar: elsewhere).isEmpty)
        #expect(Escalation.evaluate(states, now: Timestamp.parse("2026-11-26T16:00:01.000Z")!, calendar: both).map(\.kind) == [.callbackOverdue])
    }

    func leakState(completedAt: String) throws -> RecordState {
        var state = try WorkOrder.create(
            id: Fixtures.id("wo-leak"), zone: east3, place: "5号楼 301", category: .leak, description: nil,
            reportedAt: Timestamp.parse("2026-11-20T00:00:00.000Z")!, stamp: Fixtures.stamp(desk, 1_000))
        try WorkOrder.complete(&state, at: Timestamp.parse(completedAt)!, stamp: Fixtures.stamp(desk, 2_000))
        return state
    }

    @Test("004 §三 leak, time zones: completed 23:30 local is that local day though UTC says otherwise, and the day ends at local midnight")
    func timeZoneBoundaries() throws {
        // 2026-11-23T15:30Z is 23:30 on the 23rd at +08:00: rain on the 24th counts, due 2026-11-24 24:00 +08:00.
        let lateEvening = try leak(completedAt: "2026-11-23T15:30:00.000Z")
        let rain24 = [try rain("2026-11-24")]
        #expect(Deadlines.callbackDue(for: lateEvening, calendar: EstateCalendar().withRain(from: rain24)).map(Timestamp.format) == "2026-11-24T16:00:00.000Z")
        // 2026-11-23T16:30Z is already 00:30 on the 24th at +08:00 (still the 23rd in UTC): rain on
        // the 24th is the completion day and does not count there; it does in a UTC estate.
        let pastMidnight = try leak(completedAt: "2026-11-23T16:30:00.000Z")
        #expect(Deadlines.callbackDue(for: pastMidnight, calendar: EstateCalendar().withRain(from: rain24)) == nil)
        let utc = EstateCalendar(utcOffsetSeconds: 0).withRain(from: rain24)
        #expect(Deadlines.callbackDue(for: pastMidnight, calendar: utc).map(Timestamp.format) == "2026-11-25T00:00:00.000Z")
        // West of UTC (-05:00): the 24th ends at 2026-11-25T05:00Z.
        let west = EstateCalendar(utcOffsetSeconds: -5 * 3600).withRain(from: rain24)
        #expect(Deadlines.callbackDue(for: lateEvening, calendar: west).map(Timestamp.format) == "2026-11-25T05:00:00.000Z")
    }

    @Test("the estate's UTC offset is read as ±hh:mm and written back the same; anything else is refused")
    func utcOffsets() throws {
        for (text, seconds) in [("+08:00", 28_800), ("+8", 28_800), ("UTC+8", 28_800), ("+0530", 19_800), ("-05:00", -18_000), ("+00:00", 0), ("+14:00", 50_400)] {
            #expect(try EstateCalendar.parseUTCOffset(text) == seconds, "\(text)")
        }
        for bad in ["", "8", "+8:0", "+15:00", "+08:07", "+08:60", "+x", "+08:00:00", "08:00", "+123"] {
            #expect(throws: ModelError.self, "\(bad)") { try EstateCalendar.parseUTCOffset(bad) }
        }
        #expect(EstateCalendar.formatUTCOffset(28_800) == "+08:00")
        #expect(EstateCalendar.formatUTCOffset(-19_800) == "-05:30")
        #expect(EstateCalendar.formatUTCOffset(0) == "+00:00")
    }

    @Test("GET /v1/devices/me carries the estate's offset; an old server's reply without it still decodes (meaning +08:00)")
    func deviceInfoEstate() throws {
        let info = DeviceInfo(name: "li", role: .butler, zones: [east3], estateUTCOffsetSeconds: -18_000)
        #expect(info.jsonValue["estate"] == ["utcOffset": "-05:00"])
        #expect(try DeviceInfo(json: JSONParser.parse(info.jsonValue.canonicalBytes)) == info)
        let old = try DeviceInfo(json: JSONParser.parse(Array(#"{"name":"li","role":"butler","zones":["east-3"]}"#.utf8)))
        #expect(old.estateUTCOffsetSeconds == nil)
        #expect(old.jsonValue["estate"] == nil)
        #expect(throws: ModelError.self) {
            try DeviceInfo(json: JSONParser.parse(Array(#"{"name":"li","role":"butler","zones":[],"estate":{"utcOffset":"noon"}}"#.utf8)))
        }
    }

    @Test("RecordIdentity: a rain day's id is rain:<zone>:<yyyy-MM-dd> of its own zone, and no other type may take that form")
    func identity() throws {
        #expect(throws: Never.self) { try RecordIdentity.check(id: Fixtures.id("rain:east-3:2026-11-24"), type: .rainDay, zone: east3) }
        for bad in ["rain:east-4:2026-11-24", "rain:east-3:2026-11-31", "rain:east-3:2026-11-24x", "rain:east-3:26-11-24", "rain-east-3-2026-11-24", "wo-1"] {
            #expect("\(bad)") { try RecordIdentity.check(id: Fixtures.id(bad), type: .rainDay, zone: east3) } throws: {
                ($0 as? ModelError)?.code == .recordMismatch
            }
        }
        for type in [RecordType.inspectionForm, .workOrder, .complaint] {
            #expect("\(type)") { try RecordIdentity.check(id: Fixtures.id("rain:east-3:2026-11-24"), type: type, zone: east3) } throws: {
                ($0 as? ModelError)?.code == .recordMismatch
            }
        }
        #expect(throws: Never.self) { try RecordIdentity.check(id: Fixtures.id("rainy-form"), type: .inspectionForm, zone: east3) }
    }

    @Test("admission: a butler records rain and withdraws only its own report; a supervisor may withdraw any; a squatted id is refused")
    func admission() throws {
        let liDevice = Pusher(name: "li", role: .butler, replicas: [li.replica])
        let wangDevice = Pusher(name: "wang", role: .butler, replicas: [wang.replica])
        let zhouDevice = Pusher(name: "zhou", role: .supervisor, replicas: [try ReplicaID("zhou")])
        let delta = try rain("2026-11-24", by: li)
        let stored = try DeltaAdmission.admit(delta, into: nil, by: liDevice)
        #expect(try RainDay(stored).isRecorded)

        var wangCopy = stored
        let erase = try RainDay.withdraw(&wangCopy, replicas: nil, stamp: Fixtures.stamp(wang, 9_000))
        #expect { try DeltaAdmission.admit(erase, into: stored, by: wangDevice) } throws: { ($0 as? ModelError)?.code == .roleForbidden }
        var wangOwn = stored
        #expect(try RainDay.withdraw(&wangOwn, replicas: [wang.replica], stamp: Fixtures.stamp(wang, 9_000)).isEmpty, "Wang has no report of his own")
        #expect(try !RainDay(try DeltaAdmission.admit(erase, into: stored, by: zhouDevice)).isRecorded)

        var liCopy = stored
        let own = try RainDay.withdraw(&liCopy, replicas: [li.replica], stamp: Fixtures.stamp(li, 9_000))
        #expect(try !RainDay(try DeltaAdmission.admit(own, into: stored, by: liDevice)).isRecorded)

        // The id of a rain day taken under another type, or for another zone, is refused.
        let squat = try WorkOrder.create(
            id: Fixtures.id("rain:east-3:2026-11-25"), zone: east3, place: "p", category: .leak, description: nil, reportedAt: Fixtures.morning,
            stamp: Fixtures.stamp(li, 1_000))
        #expect { try DeltaAdmission.admit(squat, into: nil, by: liDevice) } throws: { ($0 as? ModelError)?.code == .recordMismatch }
        let otherZone = try RecordState(
            id: Fixtures.id("rain:east-4:2026-11-24"), type: .rainDay, zone: east3, context: delta.context, fields: delta.fields)
        #expect { try DeltaAdmission.admit(otherZone, into: nil, by: liDevice) } throws: { ($0 as? ModelError)?.code == .recordMismatch }
    }

    @Test("the schema takes reports {at, note?} only; a report dated after its recording or rain on a day not yet begun is refused")
    func schemaAndTimes() throws {
        let good = try rain("2026-11-23")
        #expect(throws: Never.self) { try FieldSchema.of(.rainDay).validate(good) }
        let entry = FieldEntry(value: ["at": "2026-11-23T01:00:00.000Z", "colour": "grey"], time: HLCTimestamp(millis: 1_000), author: "li")
        let extra = try RecordState(
            id: good.id, type: .rainDay, zone: east3, context: good.context,
            fields: [try FieldPath("reports", "li:1"): [Dot(li.replica, 1): entry]])
        #expect { try FieldSchema.of(.rainDay).validate(extra) } throws: { ($0 as? ModelError)?.code == .invalidField }
        let stray = try RecordState(
            id: good.id, type: .rainDay, zone: east3, context: good.context,
            fields: [FieldPath("day"): [Dot(li.replica, 1): FieldEntry(value: "2026-11-23", time: HLCTimestamp(millis: 1_000), author: "li")]])
        #expect { try FieldSchema.of(.rainDay).validate(stray) } throws: { ($0 as? ModelError)?.code == .invalidField }

        // Recorded 2026-11-23T01:00Z (09:00 at +08:00): rain on the 23rd is fine, on the 25th has not fallen yet.
        let recorded = Timestamp.parse("2026-11-23T01:00:00.000Z")!
        func report(_ text: String, at: Date) throws -> RecordState {
            var state = RecordState(id: try RainDay.recordID(zone: east3, day: day(text)), type: .rainDay, zone: east3)
            return try RainDay.report(&state, note: "大雨", at: at, stamp: EditStamp(author: li, time: HLCTimestamp(millis: HybridLogicalClock.millis(recorded))))
        }
        #expect(throws: Never.self) { try RainDay.checkReportTimes(try report("2026-11-23", at: recorded)) }
        #expect(throws: Never.self) { try RainDay.checkReportTimes(try report("2026-11-20", at: recorded)) }
        #expect { try RainDay.checkReportTimes(try report("2026-11-25", at: recorded)) } throws: { ($0 as? ModelError)?.code == .invalidValue }
        #expect { try RainDay.checkReportTimes(try report("2026-11-23", at: recorded.addingTimeInterval(3600))) } throws: {
            ($0 as? ModelError)?.code == .invalidValue
        }
    }

    @Test("convergence: two devices record the same rain day concurrently → one rain day with both reports, in any order, no conflict")
    func concurrentAdds() throws {
        let fromLi = try rain("2026-11-24", by: li, millis: 5_000)
        let fromWang = try rain("2026-11-24", by: wang, millis: 6_000)
        #expect(fromLi.id == fromWang.id)
        let a = try fromLi.merged(with: fromWang)
        let b = try fromWang.merged(with: fromLi)
        #expect(a == b && a.contentHash == b.contentHash)
        #expect(try a.merged(with: fromLi) == a)
        let merged = try RainDay(a)
        #expect(merged.reports.map(\.author).sorted() == ["李管家", "王管家"])
        #expect(try a.conflicts().isEmpty)
        #expect(EstateCalendar().withRain(from: [a]).rainDays(in: east3) == [day("2026-11-24")])

        // Li withdraws her report without having seen Wang's: the day stays rainy (a withdrawal
        // removes only what its writer saw).
        var liState = fromLi
        let withdrawal = try RainDay.withdraw(&liState, replicas: [li.replica], stamp: Fixtures.stamp(li, 7_000))
        let after = try a.merged(with: withdrawal)
        #expect(try RainDay(after).reports.map(\.author) == ["王管家"])
        #expect(try after == fromWang.merged(with: withdrawal).merged(with: fromLi))
    }

    @Test("a rain day whose every report was withdrawn does not count")
    func withdrawn() throws {
        var state = try rain("2026-11-24")
        try RainDay.withdraw(&state, replicas: [li.replica], stamp: Fixtures.stamp(li, 9_000))
        #expect(try !RainDay(state).isRecorded)
        #expect(EstateCalendar().withRain(from: [state]).rainDays(in: east3).isEmpty)
        #expect(try state.resolvedView()["rain"] == false)
    }
}
