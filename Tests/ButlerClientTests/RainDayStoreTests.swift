import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// Rain days on the device and its one estate calendar (issue 13).
@Suite("Client: rain days and the estate calendar")
struct RainDayStoreTests {
    let east3 = try! Zone("east-3")
    let east4 = try! Zone("east-4")
    /// 2026-11-24 09:30 at +08:00 (01:30 UTC).
    let now = Timestamp.parse("2026-11-24T01:30:00.000Z")!

    func store(_ kind: StoreKind, _ scratch: Scratch, offset: Int? = nil) throws -> ClientStore {
        let store = try makeStore(kind, in: scratch.url, clock: FixedWallClock(now))
        try store.setDeviceInfo(DeviceInfo(name: "li", role: .butler, zones: [east3, east4], estateUTCOffsetSeconds: offset))
        return store
    }

    @Test("rain add records one rain day per zone the device works in, ids derived; again is a no-op; the calendar sees it per zone", arguments: StoreKind.allCases)
    func addAndCalendar(_ kind: StoreKind) throws {
        let scratch = Scratch("rain-add-\(kind)")
        let store = try store(kind, scratch)
        let day = try EstateCalendar.Day("2026-11-24")
        let ids = try store.addRainDay(day, note: "大雨")
        #expect(ids.map(\.rawValue) == ["rain:east-3:2026-11-24", "rain:east-4:2026-11-24"])
        let pending = try store.status().pendingEdits
        #expect(pending == 2)
        #expect(try store.addRainDay(day, zones: [east3]) == [ids[0]])
        #expect(try store.status().pendingEdits == pending, "a day already rainy here writes nothing")

        let calendar = try store.estateCalendar()
        #expect(calendar.utcOffsetSeconds == 8 * 3600, "+08:00 when the server sent no offset")
        #expect(calendar.rainDays(in: east3) == [day] && calendar.rainDays(in: east4) == [day])
        #expect(try store.rainDays(zone: east4).map(\.id) == [ids[1]])
        #expect(try store.rainDays().first?.reports.first?.note == "大雨")
    }

    @Test("a day after today (estate local) or a zone not the device's is refused and nothing is written", arguments: StoreKind.allCases)
    func refusals(_ kind: StoreKind) throws {
        let scratch = Scratch("rain-refuse-\(kind)")
        let store = try store(kind, scratch)
        #expect { try store.addRainDay(try EstateCalendar.Day("2026-11-25")) } throws: { ($0 as? ClientError)?.code == .invalidValue }
        #expect { try store.addRainDay(try EstateCalendar.Day("2026-11-24"), zones: [try Zone("west-1")]) } throws: {
            ($0 as? ClientError)?.code == .zoneNotAssigned
        }
        #expect(try store.status().pendingEdits == 0)
        #expect(try store.allRecords().isEmpty)
    }

    @Test("the estate's offset from the server decides what today is: 01:30 UTC is still yesterday at -05:00", arguments: StoreKind.allCases)
    func offsetFromServer(_ kind: StoreKind) throws {
        let scratch = Scratch("rain-offset-\(kind)")
        let store = try store(kind, scratch, offset: -5 * 3600)
        #expect(try store.estateCalendar().utcOffsetSeconds == -5 * 3600)
        #expect { try store.addRainDay(try EstateCalendar.Day("2026-11-24")) } throws: { ($0 as? ClientError)?.code == .invalidValue }
        #expect(try store.addRainDay(try EstateCalendar.Day("2026-11-23"), zones: [east3]).count == 1)
    }

    @Test("rain remove withdraws this device's own report only; without one it is a clear error", arguments: StoreKind.allCases)
    func withdraw(_ kind: StoreKind) throws {
        let scratch = Scratch("rain-remove-\(kind)")
        let store = try store(kind, scratch)
        let day = try EstateCalendar.Day("2026-11-23")
        #expect { try store.withdrawRainDay(day, zones: [east3]) } throws: { ($0 as? ClientError)?.code == .unknownRecord }
        try store.addRainDay(day, zones: [east3])
        let after = try store.withdrawRainDay(day, zones: [east3])
        #expect(after.map(\.isRecorded) == [false])
        #expect(try store.estateCalendar().rainDays(in: east3).isEmpty)
        #expect(try store.rainDays().isEmpty)
    }
}
