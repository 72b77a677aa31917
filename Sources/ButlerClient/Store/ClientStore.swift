import ButlerFiles
import ButlerModel
import Foundation
import GRDB
import Logging
import Synchronization

/// The on-device store: one SQLite file in WAL mode holding the materialised record states, the
/// outbox of local deltas, photo blobs' bookkeeping and the sync metadata, plus a folder of blobs.
///
/// Every edit is one transaction that updates the record's state *and* appends its delta to the
/// outbox — both or neither — and the store runs SQLite with `synchronous = FULL`, so a commit is
/// on disk (the WAL fsynced) before the edit returns: a battery dying the next instant loses
/// nothing that was acknowledged, and a replayed edit cannot be duplicated because the edit and
/// its delta commit together.
///
/// ```swift
/// let store = try ClientStore.open(home: URL(fileURLWithPath: "/home/li/.butler"))
/// let form = try store.createForm(template: "building-patrol", zone: Zone("east-3"), place: "3号楼 楼梯间")
/// try store.setResult(form: form, item: "stairwell-lights", result: .defect, note: "3F 灯不亮")
/// ```
public final class ClientStore: Sendable {
    /// The database (a `DatabasePool` on disk, a `DatabaseQueue` in memory).
    let writer: any DatabaseWriter
    /// Where photo blobs live, one file per SHA-256.
    public let blobDirectory: URL
    let clock: any WallClock
    /// Where new replica and record ids come from (seeded in the deterministic simulation).
    let entropy: any EntropySource
    let templates: TemplateCatalog
    let logger: Logger
    /// Seals record states and queued deltas at rest, when the device has a key.
    let atRest: AtRestKey?
    /// How far commits and photo files are made to survive: ``Durability/powerLoss`` on every real
    /// device; the deterministic simulation alone opens its stores with ``Durability/processCrash``.
    public let durability: Durability
    /// Decoded states keyed by record, with the exact bytes they were decoded from: a load whose
    /// stored bytes are identical reuses the decoded state instead of parsing it again. Keyed by
    /// content, so it can never serve a stale state (another process's write changes the bytes; a
    /// rolled-back write leaves bytes that do not match).
    let decoded = Mutex([RecordID: (bytes: Data, state: RecordState)]())
    static let decodedCapacity = 256

    /// The store's database file name inside its home.
    public static let databaseFileName = "butler.sqlite"

    /// Opens a store over `writer`, ready to use: brings its schema up to date and checks the
    /// device key against it. Every other way to get a store (``open(home:clock:templates:atRest:logger:)``,
    /// ``inMemory(blobDirectory:clock:templates:atRest:logger:)``) only builds the writer and comes here.
    ///
    /// ```swift
    /// let queue = try DatabaseQueue(configuration: ClientStore.makeConfiguration())
    /// let store = try ClientStore(queue, blobDirectory: scratch.appendingPathComponent("blobs"))
    /// ```
    ///
    /// - Parameters:
    ///   - writer: the database, made with ``makeConfiguration(_:)``. Its writer connection is
    ///     set to `synchronous = FULL` here (with the default `durability`), whoever built it,
    ///     because the store's promise (an acknowledged edit survives power loss) rests on it.
    ///   - blobDirectory: where photo blobs live, created if missing.
    ///   - templates: the form templates (default: those bundled with the model).
    ///   - atRest: the device key; a store is encrypted from its creation or never.
    ///   - durability: ``Durability/powerLoss`` (the default: `synchronous = FULL`, photos
    ///     fsynced); ``Durability/processCrash`` only for the simulation, whose crashes are
    ///     re-opens in the same process (`synchronous = NORMAL`, no fsync of photo files).
    /// - Throws: ``ClientError`` — `key-required`, `wrong-key` or `store-not-encrypted` when the key
    ///   does not fit the store; `storage-full`, `database-error` or `file-error` when the database
    ///   or the blob folder cannot be prepared.
    public init(
        _ writer: any DatabaseWriter, blobDirectory: URL, clock: any WallClock = SystemWallClock(), templates: TemplateCatalog? = nil,
        atRest: AtRestKey? = nil, entropy: any EntropySource = SystemEntropy(), durability: Durability = .powerLoss,
        logger: Logger = Logger(label: "butler.client.store")
    ) throws {
        self.writer = writer
        self.durability = durability
        self.blobDirectory = blobDirectory
        self.clock = clock
        self.entropy = entropy
        self.templates = try ClientError.mapping("cannot read the form templates") { try templates ?? TemplateCatalog.bundled() }
        self.atRest = atRest
        self.logger = logger
        do {
            try FileManager.default.createDirectory(at: blobDirectory.appendingPathComponent("tmp"), withIntermediateDirectories: true)
        } catch {
            throw ClientError(.file, "cannot create the blob folder \(blobDirectory.path): \(error.localizedDescription)")
        }
        try ClientError.mapping("cannot prepare the store database \(writer.path)") {
            // DatabasePool sets synchronous = NORMAL on its WAL connections after prepareDatabase
            // runs, so the pragma is set here, on the one connection whose commits must be durable.
            try writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(durability.sqliteSynchronous)") }
            try migrate()
        }
        try checkAtRestKey()
        logger.debug("store opened", metadata: ["store.path": "\(writer.path)", "store.encrypted": "\(atRest != nil)"])
    }

    static let keyCheckPlaintext = Data("butler-at-rest-v1".utf8)

    /// A store is encrypted from its creation or never: the key must match, and a key cannot be
    /// added to a store that already holds plaintext records (nor omitted from an encrypted one).
    func checkAtRestKey() throws {
        try write { db in
            let check = try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'at_rest_check'")
            switch (check, atRest) {
            case (nil, nil):
                return
            case (let check?, nil):
                _ = check
                throw ClientError(.keyRequired, "this store is encrypted: set BUTLER_KEY_FILE to its device key")
            case (let check?, let key?):
                guard (try? key.open(check)) == Self.keyCheckPlaintext else {
                    throw ClientError(.wrongKey, "BUTLER_KEY_FILE does not hold this store's device key")
                }
            case (nil, let key?):
                let records = try Int.fetchOne(db, sql: "SELECT (SELECT COUNT(*) FROM records) + (SELECT COUNT(*) FROM outbox)") ?? 0
                guard records == 0 else {
                    throw ClientError(.storeNotEncrypted, "this store already holds unencrypted records; a device key can only be set on a new store")
                }
                try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('at_rest_check', ?)", arguments: [try key.seal(Self.keyCheckPlaintext)])
            }
        }
    }

    /// What is stored for a state or delta: its canonical JSON, sealed when the device has a key.
    func sealed(_ state: RecordState) throws -> Data {
        let plain = Data(state.canonicalJSON)
        return try atRest?.seal(plain) ?? plain
    }

    /// The state or delta in stored bytes.
    func unsealed(_ data: Data) throws -> RecordState {
        let plain = try atRest?.open(data) ?? data
        return try JSONParser.parseRecordState([UInt8](plain))
    }

    /// Opens (creating on first use) the store in `home`: `home/butler.sqlite` (a `DatabasePool`,
    /// WAL) and `home/blobs/`.
    public static func open(
        home: URL, clock: any WallClock = SystemWallClock(), templates: TemplateCatalog? = nil, atRest: AtRestKey? = nil,
        entropy: any EntropySource = SystemEntropy(), durability: Durability = .powerLoss, logger: Logger = Logger(label: "butler.client.store")
    ) throws -> ClientStore {
        let pool = try ClientError.mapping("cannot open the store in \(home.path)") {
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            return try DatabasePool(path: home.appendingPathComponent(databaseFileName).path, configuration: makeConfiguration())
        }
        return try ClientStore(
            pool, blobDirectory: home.appendingPathComponent("blobs"), clock: clock, templates: templates, atRest: atRest, entropy: entropy,
            durability: durability, logger: logger)
    }

    /// An in-memory store (a `DatabaseQueue`) for tests and tools; blobs still go to `blobDirectory`.
    public static func inMemory(
        blobDirectory: URL, clock: any WallClock = SystemWallClock(), templates: TemplateCatalog? = nil, atRest: AtRestKey? = nil,
        entropy: any EntropySource = SystemEntropy(), logger: Logger = Logger(label: "butler.client.store")
    ) throws -> ClientStore {
        let queue = try ClientError.mapping("cannot open an in-memory store") { try DatabaseQueue(configuration: makeConfiguration()) }
        return try ClientStore(
            queue, blobDirectory: blobDirectory, clock: clock, templates: templates, atRest: atRest, entropy: entropy, logger: logger)
    }

    /// The database configuration a store's writer must be made with: `config` plus a wait of
    /// up to 10 s for a lock another process holds (`butler` and `butler-syncd` share the file).
    public static func makeConfiguration(_ config: Configuration = Configuration()) -> Configuration {
        var config = config
        config.busyMode = .timeout(10)
        config.label = "butler.client"
        return config
    }

    // MARK: - Transactions

    /// The writer connection's `PRAGMA synchronous` (2 = FULL), for checks and diagnostics.
    public func synchronousMode() throws -> Int {
        try ClientError.mapping("cannot read the database settings") {
            try writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
        }
    }

    /// Runs `body` in one write transaction, mapping database failures to ``ClientError``.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        try ClientError.mapping("the local database refused the change") { try writer.write(body) }
    }

    /// Runs `body` in one read, mapping database failures to ``ClientError``.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try ClientError.mapping("the local database could not be read") { try writer.read(body) }
    }

    // MARK: - Records

    func loadRecord(_ db: Database, _ id: RecordID) throws -> RecordState? {
        // Cached statements: compiling SQL on every call was a tenth of a pull's time.
        let select = try db.cachedStatement(sql: "SELECT state FROM records WHERE id = ?")
        guard let data = try Data.fetchOne(select, arguments: [id.rawValue]) else { return nil }
        if let hit = decoded.withLock({ $0[id] }), hit.bytes == data { return hit.state }
        let state = try unsealed(data)
        remember(data, state)
        return state
    }

    func saveRecord(_ db: Database, _ state: RecordState) throws {
        let data = try sealed(state)
        try db.cachedStatement(
            sql: "INSERT INTO records (id, type, zone, state) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET state = excluded.state"
        ).execute(arguments: [state.id.rawValue, state.type.rawValue, state.zone.rawValue, data])
        remember(data, state)
    }

    private func remember(_ data: Data, _ state: RecordState) {
        decoded.withLock { cache in
            if cache.count >= Self.decodedCapacity, cache[state.id] == nil { cache.removeAll(keepingCapacity: true) }
            cache[state.id] = (data, state)
        }
    }

    /// The state of one record, or `nil`.
    public func record(_ id: RecordID) throws -> RecordState? {
        try read { db in try self.loadRecord(db, id) }
    }

    /// All records of a type, by id.
    public func records(of type: RecordType) throws -> [RecordState] {
        try read { db in
            try Data.fetchAll(db, sql: "SELECT state FROM records WHERE type = ? ORDER BY id", arguments: [type.rawValue]).map(unsealed)
        }
    }

    /// The ids of the records of a type, sorted, without decoding them.
    public func recordIDs(of type: RecordType) throws -> [RecordID] {
        try read { db in
            // Read from the (type, id) index alone, in order, with no sort and no table row.
            try String.fetchAll(db.cachedStatement(sql: "SELECT id FROM records WHERE type = ? ORDER BY id"), arguments: [type.rawValue])
                .map { try RecordID($0) }
        }
    }

    /// How many records of a type the device holds.
    public func recordCount(of type: RecordType) throws -> Int {
        try read { db in try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM records WHERE type = ?"), arguments: [type.rawValue]) ?? 0 }
    }

    /// The id at `index` (from 0) among the ids of a type in ``recordIDs(of:)``'s order, or `nil`
    /// past the end: one id from the (type, id) index, without reading the others.
    public func recordID(of type: RecordType, at index: Int) throws -> RecordID? {
        try recordIDs(of: type, at: [index])[0]
    }

    /// ``recordID(of:at:)`` for several indexes, in one read.
    public func recordIDs(of type: RecordType, at indexes: [Int]) throws -> [RecordID?] {
        try read { db in
            let select = try db.cachedStatement(sql: "SELECT id FROM records WHERE type = ? ORDER BY id LIMIT 1 OFFSET ?")
            return try indexes.map { index in try String.fetchOne(select, arguments: [type.rawValue, index]).map { try RecordID($0) } }
        }
    }

    /// Every record on the device.
    public func allRecords() throws -> [RecordState] {
        try read { db in
            try Data.fetchAll(db, sql: "SELECT state FROM records ORDER BY id").map(unsealed)
        }
    }

    /// Every open conflict on the device, late edits included.
    public func conflicts() throws -> [Conflict] {
        return try ClientError.mapping { try allRecords().flatMap { try $0.conflicts() } }
    }
}
