/// A failure of the test machinery itself (a server that never listened, a command that failed
/// in set-up), as opposed to a failed expectation.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
