import ArgumentParser
import ButlerClient
import ButlerModel
import Foundation

struct RainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rain",
        abstract: "Rain days (下雨天): a leak repair's callback is due after the first rainy day following it.",
        discussion: """
            A rain day is one record per zone and day (rain:ZONE:DATE), synced like any other: two butlers who \
            record the same rain end with one rain day. Dates are the estate's local days (the server's time zone, \
            +08:00 by default).

            Example:
              butler rain add 2026-11-24
            """,
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record that it rained on DATE; prints the rain-day record id(s) alone on stdout, one per line.",
            discussion: """
                Without --zone, records the rain in every zone this handheld works in (learnt at init or sync). \
                A date after today (estate local time) is refused. Recording a day this handheld already \
                reported changes nothing and prints its id.

                Examples:
                  butler rain add 2026-11-24
                  butler rain add 2026-11-24 --zone east-3 --note "午后大雨"
                """)
        @OptionGroup var home: HomeOptions
        @Argument(help: ArgumentHelp("The day it rained, yyyy-MM-dd (estate local).", valueName: "date")) var date: String
        @Option(help: "Only this zone (default: every zone of this handheld).") var zone: String?
        @Option(help: "A note, e.g. how heavy.") var note: String?

        func run() async throws {
            let day = try RainCommand.day(date)
            let ids = try home.open().addRainDay(day, zones: try zone.map { [try CLI.zone($0)] }, note: note)
            for id in ids { print(id.rawValue) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the rain days this handheld holds, by day.",
            discussion: """
                Examples:
                  butler rain list
                  butler rain list --zone east-3 --json
                """)
        @OptionGroup var home: HomeOptions
        @Option(help: "Only this zone.") var zone: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let days = try home.open().rainDays(zone: try zone.map(CLI.zone))
            if json {
                CLI.print(.array(days.map(\.jsonValue)))
                return
            }
            for day in days {
                let who = day.reports.map { report in report.note.map { "\(report.author) (\($0))" } ?? report.author }
                print("\(day.day)  \(day.zone)  \(who.joined(separator: ", "))")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Withdraw this handheld's report of rain on DATE (a mistake).",
            discussion: """
                Only the reports this handheld made are withdrawn (a supervisor's handheld withdraws every report it \
                holds). The day stays a rain day while another report stands, including one made on another handheld \
                that this one had not seen yet: a withdrawal never cancels a report it did not see.

                Example:
                  butler rain remove 2026-11-24 --zone east-3
                """)
        @OptionGroup var home: HomeOptions
        @Argument(help: ArgumentHelp("The day, yyyy-MM-dd (estate local).", valueName: "date")) var date: String
        @Option(help: "Only this zone (default: every zone of this handheld).") var zone: String?

        func run() async throws {
            let day = try RainCommand.day(date)
            let after = try home.open().withdrawRainDay(day, zones: try zone.map { [try CLI.zone($0)] })
            for rain in after where rain.isRecorded {
                let who = Set(rain.reports.map(\.author)).sorted().joined(separator: ", ")
                FileHandle.standardError.write(Data("butler: \(rain.id) stays a rain day: reported by \(who)\n".utf8))
            }
        }
    }

    /// `yyyy-MM-dd`, or a clear `invalid-argument`.
    static func day(_ text: String) throws -> EstateCalendar.Day {
        do {
            return try EstateCalendar.Day(text)
        } catch let error as ModelError {
            throw ClientError(.invalidArgument, error.message)
        }
    }
}
