import Foundation

/// An inspection-form template (巡查登记表模板): sections of checklist items with stable keys.
///
/// Templates are JSON files (`Samples/templates/<id>.json`); the model ships them as a resource
/// (``TemplateCatalog/bundled``) and can load a directory of site-specific ones.
public struct FormTemplate: Hashable, Sendable {
    public struct Item: Hashable, Sendable {
        public let key: String
        public let label: String
        public let labelEn: String
        public let guidance: String
        public let guidanceEn: String
        public let defectAction: String?
    }

    public struct Section: Hashable, Sendable {
        public let key: String
        public let label: String
        public let labelEn: String
        public let items: [Item]
    }

    public let id: String
    public let version: Int
    public let title: String
    public let titleEn: String
    public let source: String
    public let sections: [Section]

    /// Every item, in template order.
    public var items: [Item] { sections.flatMap(\.items) }

    public func item(_ key: String) -> Item? { items.first { $0.key == key } }

    /// Parses and validates a template document.
    public init(json: JSONValue) throws {
        let r = try JSONObjectReader(json, path: "template")
        id = try r.string("id")
        try validateIdentifier(id, kind: "template id", maxLength: 64)
        version = Int(try r.int("version"))
        title = try r.string("title")
        titleEn = try r.string("titleEn")
        source = try r.string("source")
        var keys = Set<String>()
        sections = try r.array("sections").map { sectionJSON in
            let s = try JSONObjectReader(sectionJSON, path: "template.sections[]")
            let items = try s.array("items").map { itemJSON in
                let i = try JSONObjectReader(itemJSON, path: "template.items[]")
                let key = try i.string("key")
                try validateIdentifier(key, kind: "item key", maxLength: 64)
                guard keys.insert(key).inserted else { throw ModelError(.invalidValue, "template \(json["id"]?.stringValue ?? "?") repeats item key \(key)") }
                return Item(
                    key: key, label: try i.string("label"), labelEn: try i.string("labelEn"),
                    guidance: try i.string("guidance"), guidanceEn: try i.string("guidanceEn"),
                    defectAction: try i.optionalString("defectAction"))
            }
            return Section(key: try s.string("key"), label: try s.string("label"), labelEn: try s.string("labelEn"), items: items)
        }
        guard !keys.isEmpty else { throw ModelError(.invalidValue, "template \(id) has no items") }
    }
}

/// A set of templates by id.
public struct TemplateCatalog: Sendable {
    public let templates: [String: FormTemplate]

    public init(_ templates: [FormTemplate]) {
        self.templates = Dictionary(templates.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
    }

    /// The template with `id`.
    ///
    /// - Throws: ``ModelError/Code/unknownTemplate`` listing the ids that exist.
    public func template(_ id: String) throws -> FormTemplate {
        guard let t = templates[id] else {
            throw ModelError(.unknownTemplate, "no template \"\(id)\"; known: \(templates.keys.sorted().joined(separator: ", "))")
        }
        return t
    }

    /// Loads every `*.json` file in `directory`.
    public static func load(directory: URL) throws -> TemplateCatalog {
        let files: [URL]
        do {
            files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
                .filter { $0.pathExtension == "json" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
        } catch {
            throw ModelError(.unreadable, "cannot list templates in \(directory.path): \(error.localizedDescription)")
        }
        return TemplateCatalog(try files.map { file in
            do {
                let data = try Data(contentsOf: file)
                return try FormTemplate(json: try JSONParser.parse([UInt8](data)))
            } catch let error as ModelError {
                throw ModelError(error.code, "\(file.lastPathComponent): \(error.message)")
            } catch {
                throw ModelError(.unreadable, "cannot read \(file.path): \(error.localizedDescription)")
            }
        })
    }

    /// The templates shipped with the model (`Samples/templates`), from the resource bundle that
    /// the build places beside the executable.
    ///
    /// - Throws: ``ModelError/Code/unreadable`` when the bundle is missing (an executable copied
    ///   without its `ButlerSync_ButlerModel.resources` folder); load a directory instead.
    public static func bundled() throws -> TemplateCatalog {
        try bundledResult.get()
    }

    private static let bundledResult: Result<TemplateCatalog, ModelError> = {
        let name = "ButlerSync_ButlerModel.resources"
        var candidates: [URL] = [Bundle.main.bundleURL.appendingPathComponent(name)]
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            candidates.append(executable.deletingLastPathComponent().appendingPathComponent(name))
        }
        // Test runners load the model from inside an .xctest bundle next to the resources.
        candidates += Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent().appendingPathComponent(name) }
        for bundle in candidates {
            let directory = bundle.appendingPathComponent("Templates")
            if FileManager.default.fileExists(atPath: directory.path) {
                do { return .success(try load(directory: directory)) } catch let error as ModelError { return .failure(error) } catch {
                    return .failure(ModelError(.unreadable, "\(error)"))
                }
            }
        }
        return .failure(ModelError(.unreadable, "the bundled templates (\(name)/Templates) are not beside the executable"))
    }()
}
