import ButlerFiles
import ButlerModel
import ButlerTestSupport
import Foundation
import Testing

/// The one gzip wrapper the client and the server share (Protocol/SYNC.md §8.2).
@Suite("Gzip")
struct GzipTests {
    /// JSON-like bytes: what the wire carries.
    static func sample(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var state = seed
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            bytes += Array(#"{"id":"form-\#(state >> 48)","value":"ok","items/tiles/result":\#(state % 97)},"#.utf8)
        }
        return Array(bytes.prefix(count))
    }

    @Test("§8.2: a round trip gives the bytes back, at every size and level", arguments: [0, 1, 149, 150, 4096, 300_000])
    func roundTrip(_ count: Int) throws {
        let bytes = Self.sample(count)
        for level: Int32 in [1, Gzip.defaultLevel, 9] {
            let packed = Gzip.compress(bytes, level: level)
            // A gzip stream: the magic bytes, deflate, and an 8-byte trailer.
            #expect(packed.prefix(3) == [0x1f, 0x8b, 0x08])
            #expect(try Gzip.decompress(packed, limit: count) == bytes)
        }
        if count >= 4096 { #expect(Gzip.compress(bytes).count < count / 3, "JSON compresses well") }
    }

    @Test("§8.2: the system's gzip reads what the wrapper writes")
    func interoperates() async throws {
        let bytes = Self.sample(10_000)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gzip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("body.json.gz")
        try Data(Gzip.compress(bytes)).write(to: file)
        // Awaited, not `waitUntilExit()`: that would hold a thread of the cooperative pool.
        let gunzip = try await runCommand(URL(fileURLWithPath: "/bin/gzip"), ["-d", file.path])
        #expect(gunzip.status == 0, "\(gunzip.stderr)")
        #expect(try Data(contentsOf: directory.appendingPathComponent("body.json")) == Data(bytes))
    }

    @Test("§8.2: a streaming deflate fed in pieces is one stream; a streaming inflate fed byte by byte reads it")
    func streaming() throws {
        let bytes = Self.sample(200_000)
        let deflater = Gzip.Deflater()
        var packed: [UInt8] = []
        for start in stride(from: 0, to: bytes.count, by: 7_001) { packed += deflater.compress(Array(bytes[start..<min(bytes.count, start + 7_001)])) }
        packed += deflater.finish()
        let inflater = Gzip.Inflater(limit: bytes.count)
        var output: [UInt8] = []
        for byte in packed {
            inflater.feed([byte])
            while let piece = try inflater.next(maxBytes: 1_000) {
                #expect(piece.count <= 1_000)
                output += piece
            }
        }
        try inflater.finish()
        #expect(output == bytes)
        #expect(inflater.produced == bytes.count && inflater.consumed == packed.count)
    }

    @Test("§8.2: a gzip bomb stops at the limit, never producing more than the limit and one byte")
    func bomb() throws {
        // 64 MiB of zeros pack into about 64 KiB.
        let deflater = Gzip.Deflater(level: 9)
        var bomb: [UInt8] = []
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<64 { bomb += deflater.compress(zeros) }
        bomb += deflater.finish()
        #expect(bomb.count < 100_000)
        let limit = 1 << 20
        #expect(throws: GzipError.self) { try Gzip.decompress(bomb, limit: limit) }
        do {
            _ = try Gzip.decompress(bomb, limit: limit)
        } catch {
            #expect(error.code == .bodyTooLarge)
        }
        // Streaming: the inflater stops at the first piece past the limit.
        let inflater = Gzip.Inflater(limit: limit)
        inflater.feed(bomb)
        var produced = 0
        do {
            while let piece = try inflater.next() { produced += piece.count }
            Issue.record("the bomb inflated whole")
        } catch {
            #expect(error.code == .bodyTooLarge)
        }
        #expect(produced <= limit)
        #expect(inflater.produced <= limit + 1)
        // Exactly at the limit is fine.
        #expect(try Gzip.decompress(Gzip.compress(zeros), limit: zeros.count).count == zeros.count)
    }

    @Test("§8.2: corrupt, cut-short, trailing and non-gzip bytes are invalid-encoding")
    func corrupt() throws {
        let bytes = Self.sample(5_000)
        let packed = Gzip.compress(bytes)
        var flipped = packed
        flipped[packed.count / 2] ^= 0xff
        var badTrailer = packed
        badTrailer[packed.count - 6] ^= 0x01  // the CRC-32
        let cases: [(String, [UInt8])] = [
            ("flipped", flipped), ("bad CRC", badTrailer), ("cut short", Array(packed.dropLast(10))), ("trailing bytes", packed + [0x41]),
            ("plain JSON", bytes), ("empty", []), ("zlib, not gzip", [0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]),
        ]
        for (name, input) in cases {
            do {
                _ = try Gzip.decompress(input, limit: 1 << 20)
                Issue.record("\(name) was read")
            } catch {
                #expect(error.code == .invalidEncoding, "\(name)")
                #expect(!error.message.isEmpty)
            }
        }
    }

    @Test("§8.2: Accept-Encoding allows gzip by name or wildcard, never at q=0", arguments: [
        ("gzip", true), ("deflate, gzip;q=1.0, *;q=0.5", true), ("GZIP", true), ("x-gzip", true), ("br, *", true),
        ("identity", false), ("", false), ("gzip;q=0", false), ("gzip;q=0.0, *", false), ("*;q=0", false), ("br", false),
    ])
    func acceptEncoding(_ header: String, _ accepted: Bool) {
        #expect(Gzip.accepted(by: header) == accepted)
    }
}
