import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// Resident profiles and visits on the device (001 §4.1, §4.4): personal data sealed at rest and
/// never logged, visits dated honestly, coverage counted in the estate's local time.
@Suite("Client store: residents")
struct ResidentStoreTests {
    let zone = try! Zone("east-3")
    static let phone = "13912345678"

    @Test("001 §4.1: with a device key a resident's phone and household never reach the SQLite file in clear, and are never logged", arguments: Backend.available)
    func sealedAndNotLogged(_ backend: Backend) async throws {
        try await Cluster.inProcess(backend, "resident-at-rest") { cluster in
            let log = CapturedLog()
            let key = try AtRestKey.create(file: cluster.scratch.path("device.key"))
            let home = cluster.scratch.path("li")
            let token = try await cluster.node.addDevice("li", role: .butler, zones: ["east-3"])
            let store = try ClientStore.open(home: home, atRest: key, logger: log.logger)
            try store.initialize(name: "李管家", serverURL: cluster.node.url, token: token)
            let engine = SyncEngine(store: store, transport: cluster.node.transport(token: token), logger: log.logger)

            let resident = try store.addResident(
                zone: zone, profile: Resident.Profile(household: "7号楼 1203", name: "赵先生", phone: Self.phone, pets: "两只猫"), note: "夜班，白天勿扰")
            try store.updateResident(resident, profile: Resident.Profile(needs: "希望增设快递柜"))
            try store.logVisit(resident: resident, channel: .phone, note: "反映电梯异响")
            // A refused edit's message does not carry the value either.
            do {
                try store.updateResident(resident, profile: Resident.Profile(phone: "not-a-phone-\(Self.phone)"))
                Issue.record("a malformed phone was accepted")
            } catch let error as ClientError {
                #expect(error.code == .invalidValue && !error.message.contains(Self.phone))
            }
            let report = try await engine.sync()
            #expect(report.refused == 0)
            #expect(try store.resident(resident).phone == Self.phone)

            var onDisk = Data()
            for name in try FileManager.default.contentsOfDirectory(atPath: home.path) where name.hasPrefix(ClientStore.databaseFileName) {
                onDisk.append(try Data(contentsOf: home.appendingPathComponent(name)))
            }
            #expect(onDisk.count > 0)
            for secret in [Self.phone, "7号楼", "赵先生", "两只猫", "快递柜", "电梯异响"] {
                #expect(onDisk.range(of: Data(secret.utf8)) == nil, "\(secret) is in the database file in clear")
            }
            let logged = log.lines.withLock { lines in lines.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n") }
            #expect(!logged.isEmpty, "the capture sees the store's and the engine's log lines")
            for secret in [Self.phone, "7号楼", "赵先生"] { #expect(!logged.contains(secret), "\(secret) was logged") }
        }
    }

    @Test("001 §4.4.2: visits are logged offline with an honest time; a future one is refused at once and nothing is queued", arguments: StoreKind.allCases)
    func visits(_ kind: StoreKind) throws {
        let dir = Scratch("store")
        let now = Timestamp.parse("2026-11-23T02:00:00.000Z")!
        let store = try makeStore(kind, in: dir.url, clock: FixedWallClock(now))
        let resident = try store.addResident(zone: zone, profile: Resident.Profile(household: "5号楼 301"))
        let yesterday = try store.logVisit(resident: resident, channel: .visit, note: "上门征询", at: now.addingTimeInterval(-86_400))
        let today = try store.logVisit(resident: resident, channel: .phone, note: nil)
        #expect(yesterday != today)
        let pending = try store.status().pendingEdits
        #expect { try store.logVisit(resident: resident, channel: .visit, note: nil, at: now.addingTimeInterval(3600)) } throws: {
            ($0 as? ClientError)?.code == .invalidValue
        }
        #expect(try store.status().pendingEdits == pending)
        let visits = try store.resident(resident).visits
        #expect(visits.map(\.id) == [yesterday, today])
        #expect(visits.map(\.author) == ["李管家", "李管家"])
        #expect(visits[0].recordedAt == now, "when it was recorded, beside when it happened")
        // Errors: an unknown resident, a visit to a record that is not a resident, an empty change.
        #expect { try store.logVisit(resident: RecordID("res-nope"), channel: .visit, note: nil) } throws: { ($0 as? ClientError)?.code == .unknownRecord }
        let form = try store.createForm(template: "building-patrol", zone: zone, place: "p")
        #expect { try store.logVisit(resident: form, channel: .visit, note: nil) } throws: { ($0 as? ClientError)?.code == .unknownRecord }
        #expect { try store.updateResident(resident, profile: Resident.Profile()) } throws: { ($0 as? ClientError)?.code == .invalidArgument }
    }

    @Test("001 §4.4.4: coverage defaults to the current month in UTC+8 and counts this device's zones")
    func coverageDefaults() throws {
        let dir = Scratch("store")
        // 2026-11-30 17:00 UTC is already 1 December in the estate.
        let now = Timestamp.parse("2026-11-30T17:00:00.000Z")!
        let store = try makeStore(.memory, in: dir.url, clock: FixedWallClock(now))
        #expect(try store.currentMonth().description == "2026-12")
        let a = try store.addResident(zone: zone, profile: Resident.Profile(household: "5号楼 301"))
        _ = try store.addResident(zone: zone, profile: Resident.Profile(household: "5号楼 302", occupied: false))
        try store.logVisit(resident: a, channel: .visit, note: nil)
        let december = try store.coverage()
        #expect(december.month.description == "2026-12")
        #expect(december.zones.map(\.occupiedHouseholds) == [1] && december.zones.map(\.visitedThisMonth) == [1])
        #expect(try store.coverage(month: EstateMonth("2026-11")).zones.first?.visitedThisMonth == 0)
        #expect(try store.coverage(zone: Zone("west-1")).zones.map(\.occupiedHouseholds) == [0])
    }
}
