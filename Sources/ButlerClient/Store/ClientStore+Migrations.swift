import GRDB
import Logging

extension ClientStore {
    /// The store's schema, one migration per change, applied in order by ``init(_:blobDirectory:clock:templates:atRest:logger:)``.
    ///
    /// A migration, once released, is never edited: devices in the field have run it. A new
    /// schema change is a new migration registered after the last one.
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
        migrator.registerMigration("v3-type-id") { db in
            // The ids of one type in id order (what a handheld lists and picks from) straight from
            // an index, without a sort over the type's rows; it also serves every `type = ?` lookup
            // the old index did.
            try db.execute(sql: """
                CREATE INDEX records_type_id ON records(type, id);
                DROP INDEX records_type;
                """)
        }
        migrator.registerMigration("v4-discarded") { db in
            // Refused edits discarded here and not yet reported to the server, which lists them as
            // pending on its console until told (`POST /v1/devices/me/discarded`): the record and the
            // dots the discarded delta wrote (`replica:counter`, comma-separated).
            // `outbox.refused_dots`: the dots of a refused delta as the server refused it (a replica
            // move re-stamps the delta, not this), what a discard reports.
            try db.execute(sql: """
                CREATE TABLE discarded (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    record_id TEXT NOT NULL,
                    dots TEXT NOT NULL
                );
                ALTER TABLE outbox ADD COLUMN refused_dots TEXT;
                """)
        }
        return migrator
    }

    /// Brings the schema up to date. An upgrade — a store made by an older build getting the
    /// migrations it lacks — is logged at `info`, since it changes a file in the field; creating a
    /// new store only at `debug`.
    func migrate() throws {
        let migrator = Self.migrator
        let applied = try writer.read { db in try migrator.appliedIdentifiers(db) }
        try migrator.migrate(writer)
        let new = migrator.migrations.filter { !applied.contains($0) }
        guard !new.isEmpty else { return }
        let metadata: Logger.Metadata = ["store.path": "\(writer.path)", "store.migrations": "\(new.joined(separator: ","))"]
        if applied.isEmpty {
            logger.debug("store created", metadata: metadata)
        } else {
            logger.info("store schema upgraded", metadata: metadata)
        }
    }
}
