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
    let templates: TemplateCatalog
    let logger: Logger
    /// Seals record states and queued deltas at rest, when the device has a key.
    let atRest: AtRestKey?
    /// Decoded states keyed by record, with the exact bytes they were decoded from: a load whose
    /// stored bytes are identical reuses the decoded state instead of parsing it again. Keyed by
    /// content, so it can never serve a stale state (another process's write changes the bytes; a
    /// rolled-back write leaves bytes that do not match).
    let decoded = Mutex([RecordID: (bytes: Data, state: RecordState)]())
    static let decodedCapacity = 256

    /// The store's database file name inside its home.
    public static let databaseFileName = "butler.sqlite"

    init(writer: any DatabaseWriter, blobDirectory: URL, clock: any WallClock, templates: TemplateCatalog, atRest: AtRestKey?, logger: Logger) throws {
        self.writer = writer
        self.blobDirectory = blobDirectory
        self.clock = clock
        self.templates = templates
        self.atRest = atRest
        self.logger = logger
        do {
            try FileManager.default.createDirectory(at: blobDirectory.appendingPathComponent("tmp"), withIntermediateDirectories: true)
        } catch {
            throw ClientError(.file, "cannot create the blob folder \(blobDirectory.path): \(error.localizedDescription)")
        }
        try Self.migrator.migrate(writer)
        try checkAtRestKey()
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

    /// Opens (creating on first use) the store in `home`: `home/butler.sqlite` and `home/blobs/`.
    public static func open(
        home: URL, clock: any WallClock = SystemWallClock(), templates: TemplateCatalog? = nil, atRest: AtRestKey? = nil,
        logger: Logger = Logger(label: "butler.client.store")
    ) throws -> ClientStore {
        do {
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            let pool = try DatabasePool(path: home.appendingPathComponent(databaseFileName).path, configuration: configuration())
            // DatabasePool sets synchronous = NORMAL on its WAL connections after prepareDatabase
            // runs; the single writer connection is the one whose commits must be durable.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            return try ClientStore(
                writer: pool, blobDirectory: home.appendingPathComponent("blobs"), clock: clock,
                templates: try templates ?? TemplateCatalog.bundled(), atRest: atRest, logger: logger)
        } catch let error as ClientError {
            throw error
        } catch let error as ModelError {
            throw ClientError(error)
        } catch {
            throw ClientError.wrap(error, "cannot open the store in \(home.path)")
        }
    }

    /// An in-memory store (tests, tools); blobs still go to `blobDirectory`.
    public static func inMemory(
        blobDirectory: URL, clock: any WallClock = SystemWallClock(), templates: TemplateCatalog? = nil, atRest: AtRestKey? = nil,
        logger: Logger = Logger(label: "butler.client.store")
    ) throws -> ClientStore {
        do {
            let queue = try DatabaseQueue(configuration: configuration())
            return try ClientStore(
                writer: queue, blobDirectory: blobDirectory, clock: clock, templates: try templates ?? TemplateCatalog.bundled(), atRest: atRest,
                logger: logger)
        } catch let error as ClientError {
            throw error
        } catch let error as ModelError {
            throw ClientError(error)
        } catch {
            throw ClientError.wrap(error, "cannot open an in-memory store")
        }
    }

    static func configuration() -> Configuration {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.label = "butler.client"
        config.prepareDatabase { db in
            // FULL: in WAL mode every commit fsyncs the WAL, so an acknowledged edit survives power loss.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        return config
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                CREATE TABLE records (
                    id TEXT PRIMARY KEY NOT NULL,
                    type TEXT NOT NULL,
                    zone TEXT NOT NULL,
                    state BLOB NOT NULL
                );
                CREATE INDEX records_type ON records(type);
                CREATE TABLE outbox (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    record_id TEXT NOT NULL,
                    delta BLOB NOT NULL,
                    refused_code TEXT,
                    refused_message TEXT
                );
                CREATE TABLE blobs (
                    sha256 TEXT PRIMARY KEY NOT NULL,
                    size INTEGER,
                    media_type TEXT,
                    state TEXT NOT NULL CHECK (state IN ('local', 'uploaded', 'missing')),
                    uploaded_bytes INTEGER NOT NULL DEFAULT 0
                );
                """)
        }
        migrator.registerMigration("v2") { db in
            // Refusals per edit (issue 11). `solo`: push this delta alone, never joined with the
            // record's other deltas (set when a joined entry was refused, so that only the
            // offending edit ends refused). `refusal`: NULL while pending, 'held' after a
            // transient refusal (re-pushed on the next sync), 'final' after a final one.
            // `rebase`: records whose local state must be rebuilt from the server's state joined
            // with their remaining outbox deltas (after `discard`), at the next sync.
            try db.execute(sql: """
                ALTER TABLE outbox ADD COLUMN solo INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE outbox ADD COLUMN refusal TEXT CHECK (refusal IN ('held', 'final'));
                CREATE TABLE rebase (record_id TEXT PRIMARY KEY NOT NULL);
                """)
            // Before v2 a refusal covered every delta joined into the refused entry: each is
            // re-pushed on its own once, so that only the edit that earned it stays refused.
            try db.execute(sql: "UPDATE outbox SET solo = 1, refusal = 'held' WHERE refused_code IS NOT NULL")
        }
        return migrator
    }

    // MARK: - Transactions

    /// The writer connection's `PRAGMA synchronous` (2 = FULL), for checks and diagnostics.
    public func synchronousMode() throws -> Int {
        do { return try writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 } } catch {
            throw ClientError.wrap(error, "cannot read the database settings")
        }
    }

    /// Runs `body` in one write transaction, mapping database failures to ``ClientError``.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.write(body)
        } catch let error as ClientError {
            throw error
        } catch let error as ModelError {
            throw ClientError(error)
        } catch {
            throw ClientError.wrap(error, "the local database refused the change")
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.read(body)
        } catch let error as ClientError {
            throw error
        } catch let error as ModelError {
            throw ClientError(error)
        } catch {
            throw ClientError.wrap(error, "the local database could not be read")
        }
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

extension ClientError {
    /// Maps a database or file-system error to a client error, recognising a full disk.
    static func wrap(_ error: any Error, _ context: String) -> ClientError {
        if let db = error as? DatabaseError {
            if db.resultCode == .SQLITE_FULL {
                return ClientError(.storageFull, "\(context): the disk is full; free space and try again", cause: db)
            }
            return ClientError(.database, "\(context): \(db.message ?? db.description)", cause: db)
        }
        let ns = error as NSError
        let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError
        if (ns.domain == NSPOSIXErrorDomain && ns.code == Int(ENOSPC)) || (error as? CocoaError)?.code == .fileWriteOutOfSpace
            || (underlying?.domain == NSPOSIXErrorDomain && underlying?.code == Int(ENOSPC))
        {
            return ClientError(.storageFull, "\(context): the disk is full; free space and try again")
        }
        return ClientError(.file, "\(context): \(error.localizedDescription)")
    }
}
