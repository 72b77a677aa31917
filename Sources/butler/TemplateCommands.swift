import ArgumentParser
import ButlerClient
import ButlerModel
import Foundation

/// `butler template list|show`: the form templates a butler can open a form from. They ship with
/// the handheld, so these work before `butler init` and with no network.
struct TemplateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template",
        abstract: "The inspection form templates (checklists from the procedures).",
        subcommands: [List.self, Show.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the templates: id, version and title, one per line (or --json).",
            discussion: "Example:\n  butler template list")
        /// Accepted like on every command (`--home` may stand anywhere); templates need no store.
        @OptionGroup var home: HomeOptions
        @Flag(help: "Print a JSON array of {id, version, title, titleEn, source, items}.") var json = false

        func run() async throws {
            let templates = try ClientError.mapping { try TemplateCatalog.bundled() }.templates.values.sorted { $0.id < $1.id }
            if json {
                CLI.print(.array(templates.map { TemplateCommand.summary($0) }))
            } else {
                for t in templates { print("\(t.id)\tv\(t.version)\t\(t.title)\t\(t.items.count) items") }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one template's sections and checklist items: the keys `butler form set` takes.",
            discussion: "Example:\n  butler template show building-patrol --json")
        @OptionGroup var home: HomeOptions
        @Argument(help: "The template id.") var id: String
        @Flag(help: "Print JSON: the summary plus sections with their items.") var json = false

        func run() async throws {
            let template = try ClientError.mapping { try TemplateCatalog.bundled().template(id) }
            if json {
                var o = TemplateCommand.summary(template).objectValue ?? [:]
                o["sections"] = .array(template.sections.map { section in
                    [
                        "key": .string(section.key), "label": .string(section.label), "labelEn": .string(section.labelEn),
                        "items": .array(section.items.map { item in
                            [
                                "key": .string(item.key), "label": .string(item.label), "labelEn": .string(item.labelEn),
                                "guidance": .string(item.guidance), "guidanceEn": .string(item.guidanceEn),
                                "defectAction": item.defectAction.map(JSONValue.string) ?? .null,
                            ]
                        }),
                    ]
                })
                CLI.print(.object(o))
            } else {
                print("\(template.title) (\(template.titleEn)), v\(template.version), \(template.source)")
                for section in template.sections {
                    print("\(section.label) / \(section.labelEn)")
                    for item in section.items { print("  \(item.key)\t\(item.label)\t\(item.guidance)") }
                }
            }
        }
    }

    static func summary(_ t: FormTemplate) -> JSONValue {
        [
            "id": .string(t.id), "version": .int(Int64(t.version)), "title": .string(t.title), "titleEn": .string(t.titleEn),
            "source": .string(t.source), "items": .int(Int64(t.items.count)),
        ]
    }
}
