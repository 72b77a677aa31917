import ButlerTestSupport
import ButlerClient
import ButlerModel
import Foundation
import GRDB
import Logging
import Synchronization
import Testing

@Suite("Client store over a database writer")
struct ClientStoreInitTests {
    let zone = try! Zone("east-3")

    func pool(_ path: String) throws -> DatabasePool { try DatabasePool(path: path, configuration: ClientStore.makeConfiguration()) }
    func queue(_ path: String) throws -> DatabaseQueue { try DatabaseQueue(path: path, configuration: ClientStore.makeConfiguration()) }

    @Test("over a DatabaseQueue: the schema is migrated and the store works")
    func overQueue() throws {
        let dir = Scratch("store")
        let queue = try DatabaseQueue(configuration: ClientStore.makeConfiguration())
        let store = try ClientStore(queue, blobDirectory: dir.url.appendingPathComponent("blobs"))
        let (tables, migrations) = try queue.read { db in
            (try ["meta", "records", "outbox", "blobs", "rebase"].filter { try db.tableExists($0) },
             try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier"))
        }
        #expect(tables.count == 5)
        #expect(migrations == ["v1", "v2", "v3-type-id", "v4-discarded"])
        #expect(FileManager.default.fileExists(atPath: dir.url.appendingPathComponent("blobs/tmp").path))
        try store.initialize(name: "李管家", serverURL: "http://127.0.0.1:9", token: "bt_x")
        let form = try store.createForm(template: "building-patrol", zone: zone, place: "3号楼 楼梯间")
        #expect(try store.form(form).place == "3号楼 楼梯间")
    }

    @Test("a writer built without the store's configuration still commits with synchronous = FULL")
    func durableWhoeverBuiltTheWriter() throws {
        let dir = Scratch("store")
        let pool = try DatabasePool(path: dir.url.appendingPathComponent("butler.sqlite").path)
        let store = try ClientStore(pool, blobDirectory: dir.url.appendingPathComponent("blobs"))
        #expect(try store.synchronousMode() == 2)
    }

    @Test("reopening an existing file keeps its records and applies no migration twice")
    func reopen() throws {
        let dir = Scratch("store")
        let path = dir.url.appendingPathComponent("butler.sqlite").path
        let blobs = dir.url.appendingPathComponent("blobs")
        let log = CapturedLog()
        let form: RecordID
        do {
            let store = try ClientStore(try pool(path), blobDirectory: blobs, logger: log.logger)
            try store.initialize(name: "李管家", serverURL: "http://127.0.0.1:9", token: "bt_x")
            form = try store.createForm(template: "building-patrol", zone: zone, place: "5号楼")
        }
        #expect(log.messages(at: .debug).contains("store created"))
        #expect(log.metadata(of: "store created")?["store.migrations"] == "v1,v2,v3-type-id,v4-discarded")
        #expect(log.messages(at: .info).isEmpty, "a new store is no news")
        log.clear()
        let reopened = try ClientStore(try pool(path), blobDirectory: blobs, logger: log.logger)
        #expect(try reopened.form(form).place == "5号楼")
        #expect(log.messages(at: .info).isEmpty, "nothing left to migrate")
        #expect(!log.messages(at: .debug).contains("store created"))
    }

    @Test("a store written before v2 gets v2 on open, with its refused edits re-pushed one by one")
    func migratesV1() throws {
        let dir = Scratch("store")
        let queue = try DatabaseQueue(configuration: ClientStore.makeConfiguration())
        // The v1 schema as released, with one refused edit in the outbox.
        try queue.write { db in
            try db.execute(sql: """
                CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
                INSERT INTO grdb_migrations VALUES ('v1');
                CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                CREATE TABLE records (id TEXT PRIMARY KEY NOT NULL, type TEXT NOT NULL, zone TEXT NOT NULL, state BLOB NOT NULL);
                CREATE INDEX records_type ON records(type);
                CREATE TABLE outbox (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL, delta BLOB NOT NULL,
                    refused_code TEXT, refused_message TEXT);
                CREATE TABLE blobs (
                    sha256 TEXT PRIMARY KEY NOT NULL, size INTEGER, media_type TEXT,
                    state TEXT NOT NULL CHECK (state IN ('local', 'uploaded', 'missing')), uploaded_bytes INTEGER NOT NULL DEFAULT 0);
                INSERT INTO outbox (record_id, delta, refused_code, refused_message) VALUES ('f1', x'00', 'role-forbidden', 'no');
                INSERT INTO outbox (record_id, delta) VALUES ('f2', x'00');
                """)
        }
        let log = CapturedLog()
        _ = try ClientStore(queue, blobDirectory: dir.url.appendingPathComponent("blobs"), logger: log.logger)
        #expect(log.messages(at: .info) == ["store schema upgraded"])
        #expect(log.metadata(of: "store schema upgraded")?["store.migrations"] == "v2,v3-type-id,v4-discarded")
        let rows = try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT record_id, solo, refusal FROM outbox ORDER BY seq").map {
                [$0["record_id"] as String, "\($0["solo"] as Int)", ($0["refusal"] as String?) ?? "-"]
            }
        }
        #expect(rows == [["f1", "1", "held"], ["f2", "0", "-"]])
        #expect(try queue.read { db in try db.tableExists("rebase") })
    }

    @Test("the device key is checked against the store, whatever the writer")
    func keyCheck() throws {
        let dir = Scratch("store")
        let path = dir.url.appendingPathComponent("butler.sqlite").path
        let blobs = dir.url.appendingPathComponent("blobs")
        let key = try AtRestKey.create(file: dir.url.appendingPathComponent("device.key"))
        do {
            let store = try ClientStore(try queue(path), blobDirectory: blobs, atRest: key)
            try store.initialize(name: "李管家", serverURL: "http://127.0.0.1:9", token: "bt_x")
        }
        let other = try AtRestKey.create(file: dir.url.appendingPathComponent("other.key"))
        let wrong = #expect(throws: ClientError.self) {
            try ClientStore(try queue(path), blobDirectory: blobs, atRest: other)
        }
        #expect(wrong?.code.rawValue == "wrong-key")
        let none = #expect(throws: ClientError.self) {
            try ClientStore(try queue(path), blobDirectory: blobs)
        }
        #expect(none?.code.rawValue == "key-required")
        let reopened = try ClientStore(try queue(path), blobDirectory: blobs, atRest: key)
        #expect(try reopened.isInitialized())
    }

    @Test("a blob folder that cannot be made is a file-error")
    func blobFolder() throws {
        let dir = Scratch("store")
        let notAFolder = dir.url.appendingPathComponent("blobs")
        try Data("x".utf8).write(to: notAFolder)
        let error = #expect(throws: ClientError.self) {
            try ClientStore(try DatabaseQueue(configuration: ClientStore.makeConfiguration()), blobDirectory: notAFolder)
        }
        #expect(error?.code == .file)
    }
}

/// A logger whose lines the test can read back.
final class CapturedLog: Sendable {
    struct Line: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: Logger.Metadata
    }

    let lines = Mutex([Line]())

    var logger: Logger {
        var logger = Logger(label: "test") { _ in Handler(log: self) }
        logger.logLevel = .trace
        return logger
    }

    func messages(at level: Logger.Level) -> [String] { lines.withLock { $0.filter { $0.level == level }.map(\.message) } }
    func metadata(of message: String) -> [String: String]? {
        lines.withLock { $0.first { $0.message == message }?.metadata.mapValues(\.description) }
    }
    func clear() { lines.withLock { $0.removeAll() } }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let line = Line(level: event.level, message: event.message.description, metadata: metadata.merging(event.metadata ?? [:]) { $1 })
            log.lines.withLock { $0.append(line) }
        }
    }
}
