import ButlerModel
import Foundation
import Testing

/// One case of `Protocol/vectors/refusals/`: a stored record, a pushing device as the server
/// vouches for it, a delta, and what the server must answer (`SYNC.md` §8.1).
struct RefusalScenario {
    let name: String
    let description: String
    let pusher: Pusher
    let stored: RecordState?
    let delta: RecordState
    /// The refusal code, or nil when the delta must be accepted.
    let refused: ModelError.Code?
}

/// The scenarios, written with the model's edit API, as the rogue devices of issue #11 sent them.
enum RefusalScenarios {
    static let li = Fixtures.author("li-handheld", "李管家")
    static let wang = Fixtures.author("wang-handheld", "王管家")
    static let zhou = Fixtures.author("zhou-tablet", "周主管")
    static let liDevice = Pusher(name: "li", role: .butler, replicas: [li.replica])
    static let wangDevice = Pusher(name: "wang", role: .butler, replicas: [wang.replica])
    static let zhouDevice = Pusher(name: "zhou", role: .supervisor, replicas: [zhou.replica])

    static func forged(_ like: RecordState, context: CausalContext, fields: [FieldPath: [Dot: FieldEntry]] = [:]) throws -> RecordState {
        try RecordState(id: like.id, type: like.type, zone: like.zone, context: context, fields: fields)
    }

    static func all() throws -> [RefusalScenario] {
        var scenarios: [RefusalScenario] = []
        func add(_ name: String, _ description: String, _ pusher: Pusher, _ stored: RecordState?, _ delta: RecordState, _ refused: ModelError.Code?) {
            scenarios.append(RefusalScenario(name: name, description: description, pusher: pusher, stored: stored, delta: delta, refused: refused))
        }
        // A created form, li's defect on it, submitted and reviewed by zhou.
        let created = Fixtures.newForm(by: li)
        var form = created
        let defect = try InspectionForm.setResult(&form, item: "fire-door", result: .defect, note: "3F 防火门未关", at: Fixtures.at(5), stamp: Fixtures.stamp(li, 2_000))
        let drafted = form
        _ = try InspectionForm.submit(&form, stamp: Fixtures.stamp(li, 3_000))
        let submitted = form
        let review = try InspectionForm.review(&form, note: "请联系工程部", at: Fixtures.at(30), stamp: Fixtures.stamp(zhou, 4_000))
        let reviewed = form
        let entry = FieldEntry(value: "晴", time: HLCTimestamp(millis: 5_000), author: "王管家")

        add("accepted-own-edit", "li's own defect with a note on its own draft form: every claim holds.", liDevice, created, defect, nil)
        add("accepted-resend", "The same delta again (its reply was lost): accepted, changes nothing.", liDevice, drafted, defect, nil)
        add("accepted-supervisor-review", "zhou reviews the submitted form with a note.", zhouDevice, submitted, review, nil)

        var impersonation = drafted
        add("foreign-dot-impersonation", "wang's device writes a value under li's replica id.", wangDevice, drafted,
            impersonation.write("weather", "晴", stamp: Fixtures.stamp(li, 5_000)), .foreignDot)
        add("foreign-dot-replay", "wang's device replays li's accepted delta.", wangDevice, drafted, defect, .foreignDot)

        let liTop = drafted.context.maxCounter(of: li.replica)
        let wangDot = try Dot(wang.replica, 1)
        add("unknown-dots-preemption",
            "wang claims to have seen li's next three dots, which the server has not received: li's real edits would be dropped as seen.",
            wangDevice, drafted,
            try forged(drafted, context: CausalContext(cloud: Set([wangDot] + (1...3).map { try Dot(li.replica, liTop + UInt64($0)) })),
                fields: ["weather": [wangDot: entry]]), .unknownDots)
        add("unknown-dots-vector", "li claims zhou's dots up to 60 on a record holding two of them.", liDevice, reviewed,
            try forged(reviewed, context: CausalContext(vector: VersionVector([zhou.replica: 60]))), .unknownDots)
        add("role-forbidden-erase-review",
            "li's device sends zhou's held dots with no values: the review note and the reviewed status would be gone.",
            liDevice, reviewed,
            try forged(reviewed, context: CausalContext(vector: VersionVector([zhou.replica: reviewed.context.maxCounter(of: zhou.replica)]))), .roleForbidden)
        var butlerReview = submitted
        add("role-forbidden-review-by-butler", "li reviews its own form.", liDevice, submitted,
            try InspectionForm.review(&butlerReview, at: Fixtures.at(31), stamp: Fixtures.stamp(li, 4_100)), .roleForbidden)

        var attached = drafted
        _ = try InspectionForm.attachPhoto(&attached, item: "fire-door", sha256: Fixtures.sha("door"), stamp: Fixtures.stamp(li, 2_500))
        var byWang = attached
        add("role-forbidden-detach-others-evidence", "wang detaches the evidence photo li attached.", wangDevice, attached,
            try InspectionForm.detachPhoto(&byWang, item: "fire-door", sha256: Fixtures.sha("door"), stamp: Fixtures.stamp(wang, 2_600)), .roleForbidden)
        var byLi = attached
        add("accepted-detach-own-evidence", "li detaches the photo it attached itself.", liDevice, attached,
            try InspectionForm.detachPhoto(&byLi, item: "fire-door", sha256: Fixtures.sha("door"), stamp: Fixtures.stamp(li, 2_600)), nil)

        var callback = try CallbackRecord.create(subject: Fixtures.id("wo-1"), subjectType: .workOrder, zone: Fixtures.zone, stamp: Fixtures.stamp(li, 1_000))
        let (_, attempt) = try CallbackRecord.logAttempt(
            &callback, at: Fixtures.at(60), channel: .phone, reached: true, satisfaction: .unsatisfied, note: "仍漏水", stamp: Fixtures.stamp(li, 1_100))
        var erase = callback
        add("role-forbidden-callback-attempt-removed", "An unsatisfied callback attempt is removed: attempts are append-only.", liDevice, callback,
            erase.write(try #require(attempt.fields.keys.first), nil, stamp: Fixtures.stamp(li, 1_200)), .roleForbidden)

        let jump = try Dot(li.replica, liTop + DeltaAdmission.maxCounterJump + 1)
        add("counter-jump", "li's counter leaps past the bound: a step towards minting counters no reader can hold.", liDevice, drafted,
            try forged(drafted, context: CausalContext(cloud: [jump]), fields: ["weather": [jump: entry]]), .counterJump)
        let reused = try Dot(li.replica, 1)
        add("dot-reused-restored-backup", "A handheld restored from a backup writes li's first dot again with other content.", liDevice, drafted,
            try forged(drafted, context: CausalContext(cloud: [reused]), fields: ["template": [reused: FieldEntry(value: "public-area", time: HLCTimestamp(millis: 9_000), author: "李管家")]]),
            .dotReused)

        let seenDot = try Dot(li.replica, liTop + 1)
        let forgedStatus = FieldEntry(
            value: FormStatus(state: .submitted, round: 1, seen: VersionVector([wang.replica: 40])).jsonValue, time: HLCTimestamp(millis: 6_000), author: "李管家")
        let statusDots = Set(drafted.fields["status"]!.keys)
        add("unknown-dots-seen-claim", "A submission claims to have seen 40 of wang's edits that do not exist, to decide what counts as late.", liDevice, drafted,
            try forged(drafted, context: CausalContext(cloud: statusDots.union([seenDot])), fields: ["status": [seenDot: forgedStatus]]), .unknownDots)

        add("record-mismatch-squatted-callback-id", "A form created under the callback id of work order wo-1.", liDevice, nil,
            Fixtures.newForm("cb:wo-1", by: li), .recordMismatch)
        let order = try WorkOrder.create(
            id: Fixtures.id("form-1"), zone: Fixtures.zone, place: "B1", category: .general, description: nil, reportedAt: Fixtures.morning, stamp: Fixtures.stamp(li, 7_000))
        add("record-mismatch-type-change", "A work order pushed under the id of an existing form.", liDevice, drafted, order, .recordMismatch)

        // Two deltas of li's own dots, spaced so none compacts: each decodes, their join would not.
        let spaced = (1...(RecordLimits.maxCloudDots / 2 + 1)).map { try! Dot(li.replica, liTop + UInt64($0 * 2)) }
        let firstHalf = try drafted.merged(with: try forged(drafted, context: CausalContext(cloud: Set(spaced))))
        let more = (1...(RecordLimits.maxCloudDots / 2)).map { try! Dot(li.replica, liTop + UInt64(RecordLimits.maxCloudDots + 10 + $0 * 2)) }
        add("record-too-large", "li's own dots, spaced so none compacts: the delta decodes, but the merged context would exceed the limit every reader enforces.",
            liDevice, firstHalf, try forged(drafted, context: CausalContext(cloud: Set(more))), .recordTooLarge)

        // Issue 13: rectification notices (001 §4.3.1.1). Li raises one from the defect, with a before photo.
        var noticed = drafted
        let raised = try InspectionForm.addNotice(
            &noticed, item: "fire-door", party: .engineering, description: "修复闭门器", deadline: Fixtures.at(24 * 60), at: Fixtures.at(6),
            stamp: Fixtures.stamp(li, 2_700))
        try InspectionForm.attachNoticePhoto(&noticed, notice: raised.id, stage: .before, sha256: Fixtures.sha("door"), stamp: Fixtures.stamp(li, 2_800))
        var liVerifies = noticed
        add("role-forbidden-notice-verified-by-butler", "li verifies the rectification of its own notice: only a supervisor verifies.", liDevice, noticed,
            try InspectionForm.progressNotice(&liVerifies, notice: raised.id, to: .verified, note: nil, at: Fixtures.at(60), stamp: Fixtures.stamp(li, 2_900)),
            .roleForbidden)
        var zhouVerifies = noticed
        add("accepted-notice-verified-by-supervisor", "zhou verifies the rectification on site.", zhouDevice, noticed,
            try InspectionForm.progressNotice(&zhouVerifies, notice: raised.id, to: .verified, note: "复核合格", at: Fixtures.at(60), stamp: Fixtures.stamp(zhou, 2_900)),
            nil)
        var wangDetaches = noticed
        add("role-forbidden-detach-others-notice-evidence", "wang detaches the before photo li attached to its notice.", wangDevice, noticed,
            try InspectionForm.detachNoticePhoto(&wangDetaches, notice: raised.id, stage: .before, sha256: Fixtures.sha("door"), stamp: Fixtures.stamp(wang, 2_900)),
            .roleForbidden)
        return scenarios
    }
}

/// `Protocol/vectors/refusals/`: what a server must refuse (or accept) given a stored record, the
/// pushing device and the delta, with the stored record unchanged after every refusal.
@Suite("Refusal vectors")
struct RefusalVectorTests {
    static let directory = VectorTests.directory.appendingPathComponent("refusals")

    static func files() -> [URL] {
        ((try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.pathExtension == "json" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    static func vector(for scenario: RefusalScenario) throws -> JSONValue {
        var expected: JSONValue = .null
        do {
            let merged = try DeltaAdmission.admit(scenario.delta, into: scenario.stored, by: scenario.pusher)
            guard scenario.refused == nil else { throw VectorError(description: "\(scenario.name) was accepted; the scenario says \(scenario.refused!)") }
            expected = merged.jsonValue
        } catch let error as ModelError {
            guard error.code == scenario.refused else { throw VectorError(description: "\(scenario.name) refused as \(error.code): \(error.message)") }
        }
        return [
            "name": .string(scenario.name), "description": .string(scenario.description),
            "pusher": [
                "name": .string(scenario.pusher.name), "role": .string(scenario.pusher.role.rawValue),
                "replicas": .array(scenario.pusher.replicas.sorted().map { .string($0.rawValue) }),
            ],
            "stored": scenario.stored?.jsonValue ?? .null, "delta": scenario.delta.jsonValue,
            "refused": scenario.refused.map { .string($0.rawValue) } ?? .null, "expected": expected,
        ]
    }

    @Test("every refusal scenario holds, and Protocol/vectors/refusals is up to date with the scenarios")
    func upToDate() throws {
        let scenarios = try RefusalScenarios.all()
        let codes = Set(scenarios.compactMap(\.refused))
        #expect(codes == [.foreignDot, .unknownDots, .dotReused, .counterJump, .roleForbidden, .recordTooLarge, .recordMismatch], "every refusal code has a vector")
        try VectorTests.syncFiles(try scenarios.map { ($0.name, try Self.vector(for: $0)) }, in: Self.directory, regenerate: "RefusalVectorTests")
    }

    @Test("each refusal vector gives its answer, and a refusal leaves the stored record as it was", arguments: files())
    func run(_ file: URL) throws {
        let vector = try JSONParser.parse([UInt8](try Data(contentsOf: file)))
        let p = try #require(vector["pusher"])
        let pusher = Pusher(
            name: try #require(p["name"]?.stringValue), role: try #require(DeviceRole(rawValue: p["role"]?.stringValue ?? "")),
            replicas: Set(try #require(p["replicas"]?.arrayValue).map { try ReplicaID(try #require($0.stringValue)) }))
        let stored = try vector["stored"].flatMap { $0 == .null ? nil : try RecordState(json: $0) }
        let before = stored?.canonicalJSON
        let delta = try RecordState(json: try #require(vector["delta"]))
        if let code = vector["refused"]?.stringValue {
            #expect(throws: ModelError.self) { try DeltaAdmission.admit(delta, into: stored, by: pusher) }
            do { _ = try DeltaAdmission.admit(delta, into: stored, by: pusher) } catch let error as ModelError {
                #expect(error.code.rawValue == code, "\(file.lastPathComponent): \(error.message)")
            }
            #expect(stored?.canonicalJSON == before)
        } else {
            let merged = try DeltaAdmission.admit(delta, into: stored, by: pusher)
            #expect(merged.canonicalJSON == (try #require(vector["expected"])).canonicalBytes)
        }
    }
}
