import Foundation

/// A fresh temporary folder, removed when the last reference goes.
///
/// ```swift
/// let scratch = Scratch("field")
/// let photo = try scratch.photo("IMG_0001.jpg", bytes: 200_000, seed: 3)
/// ```
public final class Scratch: Sendable {
    public let url: URL

    /// Creates `<tmp>/butler-<name>-<random>`.
    public init(_ name: String) {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("butler-\(name)-\(UUID().uuidString.prefix(8))")
        // The temporary folder is writable on every machine the tests run on; failing here is a broken machine.
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// `url/name`.
    public func path(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Writes a deterministic test photo of `bytes` bytes at `url/name` and returns its URL.
    public func photo(_ name: String, bytes: Int, seed: UInt64 = 1) throws -> URL {
        let file = path(name)
        try writePhoto(file, bytes: bytes, seed: seed)
        return file
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Writes `bytes` deterministic bytes for a test photo: the same seed gives the same file (and
/// hash), different seeds give different ones.
public func writePhoto(_ url: URL, bytes: Int, seed: UInt64) throws {
    var state = seed
    var data = Data(capacity: bytes)
    while data.count < bytes {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        withUnsafeBytes(of: state) { data.append(contentsOf: $0.prefix(min(8, bytes - data.count))) }
    }
    try data.write(to: url)
}
