import ButlerFiles
import ButlerModel
import Foundation
import Testing

/// The zone digest (`Protocol/SYNC.md` §8.3): the XOR of the SHA-256 of each record's canonical
/// state, so the server can keep it up to date record by record and a client can recompute it.
@Suite("Zone digest")
struct ZoneDigestTests {
    static func states(_ count: Int) -> [[UInt8]] {
        (0..<count).map { Array(#"{"id":"form-\#($0)","zone":"east-3"}"#.utf8) }
    }

    @Test("§8.3: the digest of a set does not depend on the order its records are added in")
    func orderIndependent() {
        let hashes = Self.states(50).map(ZoneDigest.hash(of:))
        var forward = ZoneDigest()
        for h in hashes { forward.add(h) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10 {
            var shuffled = ZoneDigest()
            for h in hashes.shuffled(using: &generator) { shuffled.add(h) }
            #expect(shuffled == forward)
        }
        #expect(!forward.isZero)
    }

    @Test("§8.3: removing a record's hash gives the digest of the others; an update is old out, new in")
    func addRemoveUpdate() {
        let states = Self.states(5)
        var all = ZoneDigest()
        for s in states { all.add(ZoneDigest.hash(of: s)) }
        var withoutThird = ZoneDigest()
        for (n, s) in states.enumerated() where n != 2 { withoutThird.add(ZoneDigest.hash(of: s)) }
        var removed = all
        removed.remove(ZoneDigest.hash(of: states[2]))
        #expect(removed == withoutThird)

        let updated = Array(#"{"id":"form-2","zone":"east-3","x":1}"#.utf8)
        var incremental = all
        incremental.remove(ZoneDigest.hash(of: states[2]))
        incremental.add(ZoneDigest.hash(of: updated))
        var scratch = ZoneDigest()
        for s in states[0..<2] + [updated] + states[3...] { scratch.add(ZoneDigest.hash(of: s)) }
        #expect(incremental == scratch)
        #expect(incremental != all, "a changed record changes the digest")

        var empty = ZoneDigest()
        for s in states { empty.add(ZoneDigest.hash(of: s)) }
        for s in states.reversed() { empty.remove(ZoneDigest.hash(of: s)) }
        #expect(empty.isZero && empty == ZoneDigest(), "every record taken out: the digest of an empty zone")
    }

    @Test("§8.3: hex round trip; buckets spread ids over 0…255; the record hash is SHA-256 of the bytes")
    func encoding() throws {
        var d = ZoneDigest()
        d.add(ZoneDigest.hash(of: Array("x".utf8)))
        #expect(d.hex.count == 64)
        #expect(ZoneDigest(hex: d.hex) == d)
        #expect(ZoneDigest(hex: "zz") == nil && ZoneDigest(hex: String(repeating: "G", count: 64)) == nil)
        #expect(ZoneDigest.hashHex(of: Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let buckets = Set((0..<2000).map { ZoneDigest.bucket(of: "form-\($0)") })
        #expect(buckets.allSatisfy { (0..<256).contains($0) })
        #expect(buckets.count > 240, "2000 ids fill nearly every bucket: \(buckets.count)")
        #expect(ZoneDigest.bucket(of: "form-1") == ZoneDigest.bucket(of: "form-1"))
    }
}
