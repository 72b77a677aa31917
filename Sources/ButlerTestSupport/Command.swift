import Foundation

/// The result of a finished command.
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    /// Whether it was ended by a signal rather than exiting.
    public let signalled: Bool
}

/// Runs a built executable (`butler`, `butler-server`, …; see ``Binaries``) to completion, at most
/// `timeout` (then it is killed). `environment` is added to this process's.
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(120)) async throws
    -> CommandResult
{
    try await runCommand(Binaries.url(executable), arguments, environment: environment, timeout: timeout)
}

/// Runs the executable at `url` to completion, at most `timeout` (then it is killed).
public func runCommand(
    _ url: URL, _ arguments: [String], environment: [String: String] = [:], currentDirectory: URL? = nil, timeout: Duration = .seconds(120)
) async throws -> CommandResult {
    let child = try ChildProcess(url, arguments, environment: environment, currentDirectory: currentDirectory)
    let (exit, _) = await child.exit(within: timeout)
    await child.stdout?.end()
    await child.stderr?.end()
    return CommandResult(status: exit.status, stdout: child.stdout?.text ?? "", stderr: child.stderr?.text ?? "", signalled: exit.signalled)
}
