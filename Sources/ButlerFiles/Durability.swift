/// How far a store's commits and files are made to survive: the power going off, or only the
/// process dying.
///
/// Every real handheld and server runs ``powerLoss``, the default everywhere; no flag or
/// environment variable selects anything else. ``processCrash`` exists for the deterministic
/// simulation (`butler-sim`), whose "crash" is a store opened again in the same process, never a
/// power cut: the operating system still holds every byte written, so an fsync changes nothing the
/// simulation can observe and only costs time (about half of a run's wall time on an ordinary disk).
public enum Durability: Sendable, Hashable {
    /// A commit or an installed file is on the disk before the call returns: SQLite
    /// `synchronous = FULL`, and every file and folder fsynced before and after its rename.
    case powerLoss
    /// A commit or an installed file survives the process being killed at any instant, but not
    /// the machine losing power: SQLite `synchronous = NORMAL` in WAL mode (commits are written to
    /// the operating system, fsynced only at checkpoints), files renamed into place without
    /// fsyncs. Writes stay atomic (a transaction is whole or absent; a blob is the whole file or
    /// nothing). For the simulation only.
    case processCrash

    /// The SQLite `PRAGMA synchronous` value for a WAL database.
    public var sqliteSynchronous: String {
        switch self {
        case .powerLoss: "FULL"
        case .processCrash: "NORMAL"
        }
    }

    /// Whether files and folders are fsynced.
    public var syncsFiles: Bool { self == .powerLoss }
}
