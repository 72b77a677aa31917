import ButlerFiles
import ButlerModel
import Foundation
import Metrics

/// The integrity check after a catch-up (`Protocol/SYNC.md` §8.3): the device compares each zone's
/// digest with the checksum the server sent on the page that ended the pull and, where they
/// differ, finds the differing records bucket by bucket and re-fetches only those. Never a silent
/// divergence: every zone ends `ok`, `mismatch` (with what is left) or `unknown` (with why), stored
/// for `butler doctor`; never a full reset.
extension SyncEngine {
    /// Compares and repairs after a pull. Failures of the check itself (the connection dropped in
    /// the middle) leave the zone `unknown` and never fail the sync; cancellation is passed on.
    public func checkIntegrity(into report: inout SyncReport) async throws {
        guard let checksums = report.serverChecksums else { return }
        let now = store.clock.now()
        var results: [String: ZoneIntegrity] = [:]
        let local = try store.zoneDigests()
        let awaiting = try store.zonesAwaitingPush()
        for (name, serverHex) in checksums.sorted(by: { $0.key < $1.key }) {
            try Task.checkCancellation()
            guard let zone = try? Zone(name), let server = ZoneDigest(hex: serverHex) else { continue }
            if awaiting.contains(name) {
                results[name] = ZoneIntegrity(checksum: .unknown, since: now, reason: "edits of this device in the zone wait to be pushed")
                continue
            }
            if (local[zone] ?? ZoneDigest()) == server {
                results[name] = ZoneIntegrity(checksum: .ok, since: now)
                continue
            }
            Counter(label: "butler_client_integrity_mismatches_total").increment()
            logger.warning("zone differs from the server's: finding the differing records", metadata: ["zone": "\(name)"])
            do {
                let result = try await reconcile(zone: zone, checksum: server, into: &report)
                if result.checksum == .mismatch {
                    logger.warning(
                        "zone still differs from the server's after the repair: `butler doctor` lists what is left",
                        metadata: ["zone": "\(name)", "integrity.left": "\(result.left.joined(separator: ","))"])
                }
                results[name] = result
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                let failure = ClientError.mapped(error, "the repair of zone \(name) was cut off")
                results[name] = ZoneIntegrity(checksum: .unknown, since: now, reason: "the repair was cut off (\(failure.code)): \(failure.message)")
                logger.info("zone repair cut off; the next sync checks again", metadata: ["zone": "\(name)", "error.code": "\(failure.code)"])
            }
        }
        try store.setIntegrity(results)
    }

    /// Finds and repairs the records of `zone` that differ from the server's: compares the 256
    /// bucket digests, lists only the differing buckets' `(id, hash)` pairs, fetches only the
    /// records whose hashes differ, and rebuilds them (``ClientStore/repair(zone:server:absent:)``).
    func reconcile(zone: Zone, checksum: ZoneDigest, into report: inout SyncReport) async throws -> ZoneIntegrity {
        let now = store.clock.now()
        guard let integrity = transport as? any IntegrityTransport else {
            return ZoneIntegrity(checksum: .mismatch, since: now, reason: "the zone differs from the server's and this transport cannot repair it")
        }
        let server = try await integrity.bucketDigests(zone: zone)
        var local = try store.bucketHashes(zone: zone)
        let differing = Self.differingBuckets(server: server.buckets, local: local)
        var wanted: [RecordID] = []
        var absent: [RecordID] = []
        for bucket in differing {
            var held: [String: String] = [:]
            var after: String?
            repeat {
                try Task.checkCancellation()
                let page = try await integrity.bucketHashes(zone: zone, bucket: bucket, after: after)
                for entry in page.records { held[entry.id] = entry.hash }
                after = page.more ? page.records.last?.id : nil
            } while after != nil
            let mine = local[bucket] ?? [:]
            for (id, hash) in held where mine[id] != hash { wanted.append(try RecordID(id)) }
            for id in mine.keys where held[id] == nil { absent.append(try RecordID(id)) }
        }
        var states: [RecordState] = []
        var unreadable: [String] = []
        var start = 0
        while start < wanted.count {
            let chunk = Array(wanted[start..<min(start + IntegrityLimits.maxFetchIDs, wanted.count)])
            start += chunk.count
            let fetched = try await integrity.fetch(FetchRequest(zone: zone, ids: chunk))
            states += fetched.records
            unreadable += fetched.unreadable
            // Listed a moment ago but gone from the reply: the server no longer holds it in this zone.
            let returned = Set(fetched.records.map(\.id.rawValue)).union(fetched.unreadable)
            absent += chunk.filter { !returned.contains($0.rawValue) }
        }
        report.refetched += states.count
        Counter(label: "butler_client_integrity_refetched_total").increment(by: states.count)
        var outcome = try store.repair(zone: zone, server: states, absent: absent)
        outcome.left += unreadable
        report.repaired += outcome.repaired
        report.requeued += outcome.requeued
        logger.info(
            "zone repaired",
            metadata: [
                "zone": "\(zone)", "integrity.buckets": "\(differing.count)", "integrity.refetched": "\(states.count)",
                "integrity.repaired": "\(outcome.repaired)", "integrity.requeued": "\(outcome.requeued)", "integrity.left": "\(outcome.left.count)",
            ])
        // Matched if the zone now equals the checkpoint, or the buckets the server answered with a
        // moment later (a change committed in between moved the server on; the next pull brings it).
        local = try store.bucketHashes(zone: zone)
        var digest = ZoneDigest()
        for hashes in local.values {
            for hash in hashes.values { if let bytes = ZoneDigest.bytes(hex: hash) { digest.add(bytes) } }
        }
        let matched = digest == checksum || Self.differingBuckets(server: server.buckets, local: local).isEmpty
        if matched && outcome.requeued == 0 {
            return ZoneIntegrity(checksum: .ok, since: now, repaired: outcome.repaired)
        }
        if outcome.left.isEmpty && outcome.requeued > 0 {
            return ZoneIntegrity(
                checksum: .unknown, since: now, reason: "edits of this device the server lacked are queued to be pushed again",
                repaired: outcome.repaired, requeued: outcome.requeued)
        }
        return ZoneIntegrity(
            checksum: .mismatch, since: now,
            reason: outcome.left.isEmpty ? "the zone still differs from the server's" : "records hold values the server never had, or cannot be read here",
            repaired: outcome.repaired, requeued: outcome.requeued, left: outcome.left.sorted())
    }

    /// The buckets whose digests differ between the server's (`bucket → hex`) and the device's.
    static func differingBuckets(server: [Int: String], local: [Int: [String: String]]) -> [Int] {
        var mine: [Int: String] = [:]
        for (bucket, hashes) in local {
            var digest = ZoneDigest()
            for hash in hashes.values { if let bytes = ZoneDigest.bytes(hex: hash) { digest.add(bytes) } }
            mine[bucket] = digest.hex
        }
        return Set(server.keys).union(mine.keys).filter { server[$0] != mine[$0] }.sorted()
    }

    /// Runs ``sync(progress:)`` and keeps its failure, if any, for `butler doctor`.
    func recordingFailure<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as CancellationError { throw error } catch {
            try? store.setLastSyncError(ClientError.mapped(error, "sync failed"), at: store.clock.now())
            throw error
        }
    }
}
