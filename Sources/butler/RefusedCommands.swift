import ArgumentParser
import ButlerClient
import ButlerModel
import Foundation

struct RefusedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refused",
        abstract: "Edits the server refused: see them, drop the ones that can never be accepted.",
        discussion: """
            The server refuses each edit on its own. A final refusal (role-forbidden, invalid-field, …) stays \
            here until you discard it; a held one (clock-ahead, zone-forbidden, storage-full, quota-exceeded) \
            is sent again by the next `butler sync`, once its cause is gone.
            """,
        subcommands: [List.self, Discard.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List refused edits: id, record, code, final or held, message.",
            discussion: """
                --json prints an array of {"id", "record", "code", "message", "final"} on stdout.

                Examples:
                  butler refused list
                  butler refused list --json
                """)
        @OptionGroup var home: HomeOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let edits = try home.open().refusedEdits()
            if json {
                CLI.print(.array(edits.map(\.jsonValue)))
                return
            }
            if edits.isEmpty { print("no refused edits") }
            for edit in edits {
                print("\(edit.id)\t\(edit.record)\t\(edit.code)\t\(edit.isFinal ? "final" : "held")\t\(edit.message)")
            }
        }
    }

    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drop one refused edit and undo it on this handheld.",
            discussion: """
                Works offline. The edit leaves the outbox at once; at the next `butler sync` the record is rebuilt \
                from the server's copy plus this handheld's other pending edits, so it shows what everyone else sees.

                Example:
                  butler refused discard 12
                """)
        @OptionGroup var home: HomeOptions
        @Argument(help: "The refused edit's id (see `butler refused list`).") var id: Int64

        func run() async throws {
            let edit = try home.open().discardRefused(id)
            FileHandle.standardError.write(Data("butler: discarded edit \(edit.id) of \(edit.record) (\(edit.code)); `butler sync` undoes it here\n".utf8))
        }
    }
}
