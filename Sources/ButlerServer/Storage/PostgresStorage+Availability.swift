import PostgresNIO

extension PostgresStorage {
    /// Whether `error` says the database cannot be reached right now, rather than that the request
    /// or the code is wrong: the connection was refused, reset or closed under a query, or the
    /// database is shutting down, restarting or out of connections (SQLSTATE class `08`, `57P01`–
    /// `57P03`, `53300`). The request may simply be sent again — a push is idempotent, so even one
    /// whose commit was cut off is safe to repeat — and the server says so with a 503
    /// `storage-unavailable` instead of failing with a 500 (found by the real-process run: a
    /// PostgreSQL restart under load).
    public static func isUnavailable(_ error: any Error) -> Bool {
        if let error = error as? PostgresTransactionError {
            return [error.beginError, error.closureError, error.commitError].contains { $0.map(isUnavailable) ?? false }
        }
        guard let error = error as? PSQLError else { return false }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
            return true
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || ["57P01", "57P02", "57P03", "53300"].contains(state)
        default:
            return false
        }
    }
}
