import ButlerClient
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// Residents, visits and coverage through the built `butler` against a live `butler-server`
/// (001 §4.1, §4.4.4): two handhelds work offline, sync, and agree.
@Suite("End to end: residents, visits and coverage", .serialized)
struct ResidentCLITests {
    static func id(_ result: CommandResult) -> String { result.stdout.trimmingCharacters(in: .newlines) }

    @Test("two devices add residents and log visits offline, sync, and `butler coverage --json` agrees on both")
    func twoDevicesAgree() async throws {
        let cluster = try await Cluster.processes("cli-residents")
        defer { cluster.terminate() }
        let (scratch, server) = (cluster.scratch, cluster.node)
        let liToken = try await server.addDevice("li", role: .butler, zones: ["east-3"])
        let wangToken = try await server.addDevice("wang", role: .butler, zones: ["east-3"])
        let liHome = scratch.path("li").path
        let wangHome = scratch.path("wang").path
        // Wang's handheld keeps its store encrypted and logs everything: neither may show a phone.
        let wangEnvironment = ["BUTLER_KEY_FILE": scratch.path("wang.key").path, "BUTLER_LOG_LEVEL": "trace"]
        var wangStderr = ""
        func li(_ args: [String]) async throws -> CommandResult { try await runCommand("butler", ["--home", liHome] + args) }
        func wang(_ args: [String]) async throws -> CommandResult {
            let result = try await runCommand("butler", args + ["--home", wangHome], environment: wangEnvironment)
            wangStderr += result.stderr
            return result
        }
        let month = EstateMonth(containing: EstateCalendar().day(of: Date())).description

        #expect(try await li(["init", "--server", server.url, "--token", liToken, "--name", "李管家"]).status == 0)
        #expect(try await wang(["init", "--server", server.url, "--token", wangToken, "--name", "王管家"]).status == 0)

        // Offline: each adds the households of their buildings.
        let a = try await li(["resident", "add", "--zone", "east-3", "--household", "5号楼 301", "--name", "王女士", "--phone", "13800138000", "--pets", "狗"])
        #expect(a.status == 0 && a.stdout.split(separator: "\n").count == 1, "the id alone on stdout")
        let residentA = Self.id(a)
        let residentB = Self.id(try await li(["resident", "add", "--zone", "east-3", "--household", "5号楼 302", "--occupation", "教师"]))
        let vacant = try await li(["resident", "add", "--zone", "east-3", "--household", "5号楼 303", "--vacant"])
        #expect(vacant.status == 0)
        let residentD = Self.id(try await wang(["resident", "add", "--zone", "east-3", "--household", "6号楼 101", "--phone", "13911112222", "--needs", "独居老人"]))
        let residentE = Self.id(try await wang(["resident", "add", "--zone", "east-3", "--household", "6号楼 102"]))
        for id in [residentA, residentB, residentD, residentE] { #expect((try? RecordID(id)) != nil, "\(id) is a record id") }

        let visitA = try await li(["visit", "log", residentA, "--channel", "visit", "--note", "反映地库照明不足"])
        #expect(visitA.status == 0 && !Self.id(visitA).isEmpty && visitA.stdout.split(separator: "\n").count == 1)
        // A visit cannot be dated in the future: refused at once, nothing queued.
        let future = try await li(["visit", "log", residentA, "--at", Timestamp.format(Date().addingTimeInterval(3600))])
        #expect(future.status == 1 && future.stdout.isEmpty && future.stderr.contains("invalid-value"))
        let badChannel = try await li(["visit", "log", residentA, "--channel", "pigeon"])
        #expect(badChannel.status != 0 && badChannel.stderr.contains("--channel"))

        for _ in 0..<2 {
            #expect(try await li(["sync", "--quiet"]).status == 0)
            #expect(try await wang(["sync", "--quiet"]).status == 0)
        }

        // Offline again, at the same time: both visit 6号楼 101; Wang logs an earlier phone call too.
        #expect(try await li(["visit", "log", residentD, "--channel", "outdoor", "--note", "楼下偶遇"]).status == 0)
        #expect(try await wang(["visit", "log", residentD, "--channel", "phone", "--at", Timestamp.format(Date().addingTimeInterval(-60))]).status == 0)
        #expect(try await wang(["resident", "set", residentB, "--phone", "13700001111", "--note", "新号码"]).status == 0)

        for _ in 0..<2 {
            #expect(try await li(["sync", "--quiet"]).status == 0)
            #expect(try await wang(["sync", "--quiet"]).status == 0)
        }

        let liCoverage = try await li(["coverage", "--month", month, "--json"])
        let wangCoverage = try await wang(["coverage", "--month", month, "--zone", "east-3", "--json"])
        #expect(liCoverage.status == 0 && wangCoverage.status == 0)
        #expect(liCoverage.stdout == wangCoverage.stdout, "both devices count the same")
        let coverage = try JSONParser.parse(liCoverage.stdout)
        #expect(coverage["month"] == .string(month))
        let zone = try #require(coverage["zones"]?.arrayValue?.first)
        #expect(coverage["zones"]?.arrayValue?.count == 1)
        #expect(zone["zone"] == "east-3")
        #expect(zone["occupiedHouseholds"] == 4, "the vacant 5号楼 303 is not counted")
        #expect(zone["visitedThisMonth"] == 2)
        #expect(zone["monthlyTarget"] == 1 && zone["monthlyTargetMet"] == true)
        #expect(zone["visitedSixMonths"] == 2 && zone["sixMonthTarget"] == 4 && zone["sixMonthTargetMet"] == false)
        let notVisited = zone["notVisitedSixMonths"]?.arrayValue ?? []
        #expect(notVisited.map { $0["household"] } == ["5号楼 302", "6号楼 102"])
        #expect(notVisited.map { $0["residents"] } == [[.string(residentB)], [.string(residentE)]])

        // Both visits to 6号楼 101 are kept on both devices; nothing conflicts.
        for run in [li, wang] {
            let shown = try JSONParser.parse(try await run(["resident", "show", residentD, "--json"]).stdout)
            for key in ["id", "zone", "household", "name", "phone", "occupation", "pets", "needs", "occupied", "notes", "visits", "lastVisit", "conflicts"] {
                #expect(shown[key] != nil, "resident show --json has \(key)")
            }
            #expect(Set(shown["visits"]?.arrayValue?.compactMap { $0["author"]?.stringValue } ?? []) == ["李管家", "王管家"])
            #expect(shown["visits"]?.arrayValue?.count == 2)
            #expect(shown["conflicts"] == [])
            let b = try JSONParser.parse(try await run(["resident", "show", residentB, "--json"]).stdout)
            #expect(b["phone"] == "13700001111" && b["occupation"] == "教师" && b["notes"]?.arrayValue?.first?["author"] == "王管家")
            let list = try JSONParser.parse(try await run(["resident", "list", "--json"]).stdout)
            #expect(list.arrayValue?.count == 5)
        }
        #expect(try await li(["conflicts", "--json"]).stdout.trimmingCharacters(in: .newlines) == "[]")
        let text = try await li(["coverage"])
        #expect(text.status == 0 && text.stdout.contains("east-3") && text.stdout.contains("6号楼 102"))
        let shown = try await li(["resident", "show", residentA])
        #expect(shown.status == 0 && shown.stdout.contains("13800138000") && shown.stdout.contains("visit"))

        // Bad input: a clear error, nothing written.
        let badMonth = try await li(["coverage", "--month", "2026-13"])
        #expect(badMonth.status != 0 && badMonth.stderr.contains("--month"))
        let noHousehold = try await li(["resident", "add", "--zone", "east-3", "--household", "  "])
        #expect(noHousehold.status == 1 && noHousehold.stdout.isEmpty && noHousehold.stderr.contains("invalid-value"))
        let badPhone = try await li(["resident", "set", residentA, "--phone", "call 13800138000"])
        #expect(badPhone.status == 1 && !badPhone.stderr.contains("13800138000"))
        #expect(try JSONParser.parse(try await li(["status", "--json"]).stdout)["pendingEdits"] == 0)

        // Wang's store is sealed: no phone in its database files; nor in anything he logged.
        var onDisk = Data()
        for name in try FileManager.default.contentsOfDirectory(atPath: wangHome) where name.hasPrefix(ClientStore.databaseFileName) {
            onDisk.append(try Data(contentsOf: URL(fileURLWithPath: wangHome).appendingPathComponent(name)))
        }
        #expect(wangStderr.contains("butler.client.store") && wangStderr.contains("store.encrypted=true"), "the trace log was captured")
        for phone in ["13800138000", "13911112222", "13700001111"] {
            #expect(onDisk.range(of: Data(phone.utf8)) == nil, "\(phone) in clear in the encrypted store")
            #expect(!wangStderr.contains(phone), "\(phone) logged")
        }
        // Every new command has an example in its help.
        for command in [["resident"], ["visit"], ["resident", "add"], ["resident", "set"], ["resident", "show"], ["resident", "list"], ["visit", "log"], ["coverage"]] {
            let help = try await li(command + ["--help"])
            #expect(help.stdout.contains("butler \(command.joined(separator: " "))") && help.stdout.lowercased().contains("example"), "\(command) --help")
        }
        await cluster.stop()
    }
}
