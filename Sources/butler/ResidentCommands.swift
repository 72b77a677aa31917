import ArgumentParser
import ButlerClient
import ButlerModel
import Foundation

/// The profile fields `butler resident add` and `set` share.
struct ProfileOptions: ParsableArguments {
    @Option(help: "The resident's name.") var name: String?
    @Option(help: "The resident's phone number (digits, + - ( ) and spaces).") var phone: String?
    @Option(help: "Occupation (职业).") var occupation: String?
    @Option(help: "Pets (宠物情况).") var pets: String?
    @Option(help: "Needs (个性化需求).") var needs: String?
    @Option(help: "A free note (every note is kept, with its author).") var note: String?

    func profile(household: String?, occupied: Bool?) -> Resident.Profile {
        Resident.Profile(household: household, name: name, phone: phone, occupation: occupation, pets: pets, needs: needs, occupied: occupied)
    }
}

/// `butler resident add|set|show|list`: household profiles (客户档案, 001 §4.1).
struct ResidentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resident",
        abstract: "Resident profiles (客户档案): household, name, phone, occupation, pets, needs.",
        discussion: """
            A profile belongs to the zone of its building and syncs to the devices of that zone. It holds \
            personal data: with BUTLER_KEY_FILE set the store keeps it encrypted on the handheld. Visits are \
            logged with `butler visit log`; `butler coverage` counts them.

            Example:
              R=$(butler resident add --zone east-3 --household "5号楼 301" --name 王女士 --phone 13800138000 --pets 狗)
              butler resident set $R --needs "独居老人，每月电话问候"
              butler resident show $R
            """,
        subcommands: [Add.self, Set.self, Show.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a household's profile; prints its id alone on stdout.",
            discussion: """
                The household is counted as occupied (已入住) unless --vacant: only occupied households count \
                towards visit coverage.

                Example:
                  R=$(butler resident add --zone east-3 --household "5号楼 301" --name 王女士 --phone 13800138000 --occupation 教师)
                """)
        @OptionGroup var home: HomeOptions
        @Option(help: "The zone.") var zone: String
        @Option(help: "Building and unit, e.g. \"5号楼 301\".") var household: String
        @OptionGroup var fields: ProfileOptions
        @Flag(help: "Nobody lives there yet (空置).") var vacant = false

        func run() async throws {
            let store = try home.open()
            let id = try store.addResident(zone: CLI.zone(zone), profile: fields.profile(household: household, occupied: !vacant), note: fields.note)
            print(id.rawValue)
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a profile's fields (an empty value clears one) and add a note.",
            discussion: """
                Concurrent changes to one field: the latest (by hybrid logical clock) is shown and the others are \
                listed by `butler conflicts` until someone sets the field again. Notes are all kept.

                Examples:
                  butler resident set $R --phone "139 0000 0000" --note "换了手机号"
                  butler resident set $R --vacant
                """)
        @OptionGroup var home: HomeOptions
        @Argument(help: "The resident id.") var id: String
        @Option(help: "Building and unit.") var household: String?
        @OptionGroup var fields: ProfileOptions
        @Flag(help: "Mark the household vacant (空置).") var vacant = false
        @Flag(help: "Mark the household occupied (已入住).") var occupied = false

        func validate() throws {
            if vacant && occupied { throw ValidationError("--vacant and --occupied exclude each other") }
        }

        func run() async throws {
            let state: Bool? = vacant ? false : occupied ? true : nil
            let store = try home.open()
            try store.updateResident(CLI.recordID(id, .resident, in: store), profile: fields.profile(household: household, occupied: state), note: fields.note)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a profile with its notes, visits and complaint history.",
            discussion: "Example:\n  butler resident show $R --json")
        @OptionGroup var home: HomeOptions
        @Argument(help: "The resident id.") var id: String
        @Flag(help: "Print JSON: id, zone, household, name, phone, occupation, pets, needs, occupied, notes, visits, lastVisit, conflicts, complaints.")
        var json = false

        func run() async throws {
            let store = try home.open()
            let resident = try store.resident(CLI.recordID(id, .resident, in: store))
            // Complaint history (001 §4.1): the complaints filed naming this resident.
            let complaints = try store.complaints(zone: resident.zone).filter { $0.resident == resident.id.rawValue }
            if json {
                guard case .object(var o) = resident.jsonValue else { return }
                o["complaints"] = .array(complaints.map { c in
                    [
                        "id": .string(c.id.rawValue), "effectiveLevel": c.effectiveLevel.map { .string($0.rawValue) } ?? .null,
                        "status": .string(c.status.rawValue), "reportedAt": c.reportedAt.map { .string(Timestamp.format($0)) } ?? .null,
                        "description": c.description.map(JSONValue.string) ?? .null,
                    ]
                })
                CLI.print(.object(o))
                return
            }
            let calendar = try store.estateCalendar()
            print("\(resident.id)  \(resident.zone)  \(resident.household ?? "?")  \(resident.occupied ? "occupied" : "vacant")")
            for (label, value) in [
                ("name", resident.name), ("phone", resident.phone), ("occupation", resident.occupation), ("pets", resident.pets),
                ("needs", resident.needs),
            ] {
                if let value { print("  \(label): \(value)") }
            }
            for note in resident.notes { print("  note (\(note.author)): \(note.text)") }
            print("visits: \(resident.visits.count)")
            for visit in resident.visits {
                print("  \(CLI.localTime(visit.at, calendar))  \(visit.channel.rawValue)  \(visit.author)  \(visit.note ?? "")")
            }
            print("complaints: \(complaints.count)")
            for c in complaints {
                print("  \(c.reportedAt.map { CLI.localTime($0, calendar) } ?? "-")  \(c.id)  \(c.effectiveLevel?.rawValue ?? "?")  \(c.status.rawValue)  \(c.description ?? "")")
            }
            for conflict in resident.conflicts { print("conflict \(conflict.field): \(conflict.explanation)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List profiles: id, zone, household, occupied or vacant, last visit (local day).",
            discussion: "Example:\n  butler resident list --zone east-3")
        @OptionGroup var home: HomeOptions
        @Option(help: "Only this zone.") var zone: String?
        @Flag(help: "Print a JSON array of profiles (the shape of `resident show --json`).") var json = false

        func run() async throws {
            let store = try home.open()
            let residents = try store.residents(zone: zone.map(CLI.zone))
            if json {
                CLI.print(.array(residents.map(\.jsonValue)))
                return
            }
            let calendar = try store.estateCalendar()
            let short = try store.shortIDs(of: .resident)
            for r in residents {
                let last = r.visits.last.map { calendar.day(of: $0.at).description } ?? "never visited"
                print("\(CLI.short(r.id, short))\t\(r.zone)\t\(r.household ?? "?")\t\(r.occupied ? "occupied" : "vacant")\t\(last)")
            }
        }
    }
}

/// `butler visit log`: a consultation of a household (客户沟通记录, 001 §4.4.2–4.4.3).
struct VisitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "visit",
        abstract: "Visits to residents (客户沟通记录), logged offline from any device.",
        discussion: """
            Each month a zone's butlers consult at least 10% of its occupied households, and every one of them \
            within six months (001 §4.4.4); `butler coverage` counts the visits logged here.

            Example:
              butler visit log $R --channel phone --note "征询停车意见"
            """,
        subcommands: [Log.self])

    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Log one visit to a resident; prints the visit id alone on stdout.",
            discussion: """
                Visits are append-only: each is written once, visits logged on several devices at once are all \
                kept, and none can be removed. --at says when it happened (ISO 8601; default now): a visit made \
                earlier may be logged later, but never dated in the future (10 minutes of clock slack). Its month \
                is the estate's local one (UTC+8).

                Channels (001 §4.4.3): visit (上门), phone (电话), outdoor (户外), survey (问卷), meeting (座谈).

                Examples:
                  butler visit log $R --channel visit --note "反映地库照明不足"
                  butler visit log $R --channel phone --at 2026-11-20T19:30:00+08:00
                """)
        @OptionGroup var home: HomeOptions
        @Argument(help: "The resident id.") var resident: String
        @Option(help: "visit, phone, outdoor, survey or meeting.") var channel = Resident.Channel.visit.rawValue
        @Option(help: "What was said or asked for.") var note: String?
        @Option(help: "When it happened (ISO 8601; default now).") var at: String?

        func run() async throws {
            guard let channel = Resident.Channel(rawValue: channel) else {
                throw ValidationError("--channel must be one of \(Resident.Channel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let store = try home.open()
            let id = try store.logVisit(resident: CLI.recordID(resident, .resident, in: store), channel: channel, note: note, at: CLI.parseDate(at))
            print(id)
        }
    }
}

/// `butler coverage`: the share of occupied households visited (001 §4.4.4).
struct CoverageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coverage",
        abstract: "Visit coverage per zone: this month (target ≥ 10% of occupied households) and the last six months (target: all).",
        discussion: """
            Counts occupied households (vacant ones are left out), in the estate's local time (UTC+8): a month is \
            its local days, the six months are this one and the five before. Lists the occupied households not \
            visited in those six months. Computed from what this device holds: sync first for the whole zone.

            Examples:
              butler coverage
              butler coverage --month 2026-11 --zone east-3 --json
            """)
    @OptionGroup var home: HomeOptions
    @Option(help: "The month, yyyy-MM (default: this month, local time).") var month: String?
    @Option(help: "Only this zone (default: every zone of this device or of its residents).") var zone: String?
    @Flag(help: "Print JSON: month, sixMonthsFrom, monthlyPercentTarget, zones[] with occupiedHouseholds, visitedThisMonth, monthlyTarget, monthlyTargetMet, visitedSixMonths, sixMonthTarget, sixMonthTargetMet, notVisitedSixMonths[].")
    var json = false

    func run() async throws {
        let store = try home.open()
        let month = try month.map { (text: String) throws -> EstateMonth in
            do { return try EstateMonth(text) } catch { throw ValidationError("--month must be yyyy-MM, e.g. 2026-11") }
        }
        let coverage = try store.coverage(month: month, zone: zone.map(CLI.zone))
        if json {
            CLI.print(coverage.jsonValue)
            return
        }
        print("\(coverage.month) (six months from \(coverage.windowStart))")
        let calendar = try store.estateCalendar()
        for z in coverage.zones {
            let monthly = z.monthlyTargetMet ? "met" : "below target"
            let whole = z.sixMonthTargetMet ? "met" : "below target"
            print("\(z.zone): \(z.occupiedHouseholds) occupied households")
            print("  this month: \(z.visitedThisMonth) visited (target \(z.monthlyTarget), \(monthly))")
            print("  six months: \(z.visitedSixMonths) visited (target \(z.sixMonthTarget), \(whole))")
            for h in z.notVisited {
                let last = h.lastVisit.map { "last visit \(calendar.day(of: $0))" } ?? "never visited"
                print("    not visited: \(h.household)  \(h.residents.map(\.rawValue).joined(separator: ","))  \(last)")
            }
        }
    }
}
