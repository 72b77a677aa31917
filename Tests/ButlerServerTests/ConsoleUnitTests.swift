import ButlerModel
@testable import ButlerServer
import ButlerTestSupport
import Foundation
import Synchronization
import Testing

/// A clock the tests move (sessions expire by it).
final class MovableClock: WallClock {
    let current: Mutex<Date>
    init(_ date: Date) { current = Mutex(date) }
    func now() -> Date { current.withLock { $0 } }
    func advance(by seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

@Suite("Console passwords, CSRF, sessions and edits")
struct ConsoleUnitTests {
    @Test("a password verifies against its own hash only; each hash has its own salt")
    func passwordHash() async throws {
        let first = try await ConsolePassword.hash("correct horse battery", cost: .fast)
        let second = try await ConsolePassword.hash("correct horse battery", cost: .fast)
        #expect(first.hasPrefix("scrypt$1024$8$1$"))
        #expect(first != second)
        #expect(try await ConsolePassword.verify("correct horse battery", against: first))
        #expect(try await ConsolePassword.verify("correct horse battery", against: second))
        #expect(try await !ConsolePassword.verify("correct horse batterY", against: first))
        #expect(try await !ConsolePassword.verify("", against: first))
        for malformed in ["", "scrypt$3$8$1$AA==$AA==", "bcrypt$1024$8$1$AA==$AA==", "scrypt$1024$8$1$!!$AA==", ConsolePassword.decoy] {
            #expect(try await !ConsolePassword.verify("correct horse battery", against: malformed), "\(malformed)")
        }
    }

    @Test("the standard cost is scrypt N=2^15, r=8, p=1")
    func standardCost() async throws {
        let hash = try await ConsolePassword.hash("correct horse battery")
        #expect(hash.hasPrefix("scrypt$32768$8$1$"))
        #expect(try await ConsolePassword.verify("correct horse battery", against: hash))
    }

    @Test("constant-time comparison and CSRF tokens: only the session's own token matches")
    func csrf() {
        #expect(ConsoleSecrets.constantTimeEqual("abc", "abc"))
        #expect(!ConsoleSecrets.constantTimeEqual("abc", "abd"))
        #expect(!ConsoleSecrets.constantTimeEqual("abc", "abcd"))
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        let mine = ConsoleSession(idHash: "a", user: "zhou", csrf: ConsoleSecrets.token(), createdAt: now, expiresAt: now + 60)
        let other = ConsoleSession(idHash: "b", user: "zhou", csrf: ConsoleSecrets.token(), createdAt: now, expiresAt: now + 60)
        #expect(mine.csrf.count == 64 && mine.csrf != other.csrf)
        #expect(ConsoleSessions.csrfMatches(mine.csrf, session: mine))
        #expect(!ConsoleSessions.csrfMatches(other.csrf, session: mine))
        #expect(!ConsoleSessions.csrfMatches(nil, session: mine))
        #expect(!ConsoleSessions.csrfMatches("", session: mine))
    }

    @Test("sessions expire, end at sign-out, and end for every session of a revoked user", arguments: Backend.available)
    func sessions(_ backend: Backend) async throws {
        let clock = MovableClock(ServerFixture.now)
        try await ServerFixture.with(backend, configure: { $0.clock = clock }) { f in
            let store = try #require(f.storage as? any ConsoleStorage)
            try await ConsoleAccounts(storage: store, cost: .fast).add(name: "zhou", zones: [try Zone("east-3")], password: "correct horse battery")
            var configuration = ConsoleConfiguration()
            configuration.sessionLifetime = 3600
            let sessions = ConsoleSessions(storage: store, configuration: configuration, clock: clock)
            #expect(try await sessions.signIn(name: "zhou", password: "wrong horse battery") == nil)
            #expect(try await sessions.signIn(name: "nobody", password: "correct horse battery") == nil)
            let first = try #require(try await sessions.signIn(name: "zhou", password: "correct horse battery"))
            // The store keeps only the id's hash.
            #expect(first.session.idHash == ConsoleSecrets.hash(first.id) && first.session.idHash != first.id)
            #expect(try await store.consoleSession(idHash: first.id) == nil)
            #expect(try await sessions.check(cookie: first.id)?.user.name == "zhou")
            // A forged id one character off (never the real id: a random id may start with "0").
            let forged = (first.id.hasPrefix("0") ? "1" : "0") + first.id.dropFirst()
            #expect(try await sessions.check(cookie: forged) == nil)
            #expect(try await sessions.check(cookie: nil) == nil)
            clock.advance(by: 3599)
            #expect(try await sessions.check(cookie: first.id) != nil)
            clock.advance(by: 1)
            #expect(try await sessions.check(cookie: first.id) == nil, "expired after its lifetime however active")

            let second = try #require(try await sessions.signIn(name: "zhou", password: "correct horse battery"))
            try await sessions.signOut(second.session)
            #expect(try await sessions.check(cookie: second.id) == nil, "signed out")

            let third = try #require(try await sessions.signIn(name: "zhou", password: "correct horse battery"))
            let fourth = try #require(try await sessions.signIn(name: "zhou", password: "correct horse battery"))
            try await ConsoleAccounts(storage: store).revoke(name: "zhou")
            #expect(try await sessions.check(cookie: third.id) == nil)
            #expect(try await sessions.check(cookie: fourth.id) == nil)
            #expect(try await sessions.signIn(name: "zhou", password: "correct horse battery") == nil, "a revoked user cannot sign in")
            #expect(try await ConsoleAccounts(storage: store).list().map { $0.revokedAt != nil } == [true])
            await #expect(throws: ModelError.self) { try await ConsoleAccounts(storage: store).revoke(name: "nobody") }
        }
    }

    @Test("bad accounts are refused and leave the store untouched", arguments: Backend.available)
    func badAccounts(_ backend: Backend) async throws {
        try await ServerFixture.with(backend) { f in
            let accounts = try ConsoleAccounts(storage: f.storage, cost: .fast)
            try await accounts.add(name: "zhou", zones: [try Zone("east-3")], password: "correct horse battery")
            for (name, zones, password) in [("zhou", ["east-3"], "another long one"), ("", ["east-3"], "correct horse battery"),
                                            ("a b", ["east-3"], "correct horse battery"), ("li", [], "correct horse battery"), ("li", ["east-3"], "short")] {
                await #expect(throws: ModelError.self) { try await accounts.add(name: name, zones: zones.map { try Zone($0) }, password: password) }
            }
            #expect(try await accounts.list().map(\.name) == ["zhou"])
            let listed = try await accounts.list()[0].jsonValue.canonicalString
            #expect(!listed.contains("scrypt") && !listed.contains("password"))
        }
    }

    @Test("repeated failures for one name slow its next attempts, within a bound; a success clears them")
    func throttle() {
        let throttle = LoginThrottle(capacity: 2, unit: .milliseconds(100), maximum: .milliseconds(800))
        #expect(throttle.delay(for: "zhou") == .zero)
        for _ in 0..<3 { throttle.failed("zhou") }
        #expect(throttle.delay(for: "zhou") == .milliseconds(100))
        throttle.failed("zhou")
        #expect(throttle.delay(for: "zhou") == .milliseconds(200))
        for _ in 0..<20 { throttle.failed("zhou") }
        #expect(throttle.delay(for: "zhou") == .milliseconds(800))
        #expect(throttle.delay(for: "li") == .zero)
        throttle.failed("li")
        throttle.failed("wang")  // capacity 2: the oldest name is forgotten
        #expect(throttle.entries.withLock { $0.count } == 2)
        throttle.succeeded("wang")
        #expect(throttle.delay(for: "wang") == .zero)
    }

    @Test("a console edit is built with the model's operations: next dot of its replica, a time after the record's")
    func edits() throws {
        var state = Deltas.form()
        try state.merge(try InspectionForm.submit(&state, stamp: Deltas.stamp("li-dev", 1_795_000_000_500)))
        let replica = try ReplicaID("rconsole1")
        let now = Date(timeIntervalSince1970: 1_795_000_000)  // earlier than the record's times: the HLC still orders after them
        let delta = try ConsoleEdits.delta(.review, on: state, replica: replica, author: "console:zhou", note: " 楼梯灯已修复 ", now: now)
        var reviewed = state
        try reviewed.merge(delta)
        let form = try InspectionForm(reviewed)
        #expect(form.status.state == .reviewed)
        #expect(form.reviewNotes.map(\.text) == ["楼梯灯已修复"])
        #expect(form.reviewNotes.map(\.author) == ["console:zhou"])
        // Three writes (status, the submitted snapshot, the note), each the replica's next counter from 1.
        #expect(state.context.maxCounter(of: replica) == 0 && delta.context.maxCounter(of: replica) == 3)
        let times = state.fields.values.flatMap(\.values).map(\.time)
        #expect(delta.fields.values.flatMap(\.values).allSatisfy { entry in times.allSatisfy { $0 < entry.time } })
        // A draft cannot be reviewed; a reviewed form closes; a closed form reopens to a new round.
        #expect(throws: ModelError.self) { try ConsoleEdits.delta(.review, on: Deltas.form(), replica: replica, author: "console:zhou", note: nil, now: now) }
        #expect(throws: ModelError.self) { try ConsoleEdits.delta(.close, on: state, replica: replica, author: "console:zhou", note: nil, now: now) }
        try reviewed.merge(try ConsoleEdits.delta(.close, on: reviewed, replica: replica, author: "console:zhou", note: nil, now: now))
        #expect(try InspectionForm(reviewed).status.state == .closed)
        try reviewed.merge(try ConsoleEdits.delta(.reopen, on: reviewed, replica: replica, author: "console:zhou", note: nil, now: now))
        #expect(try InspectionForm(reviewed).status == FormStatus(state: .draft, round: 2))
    }
}
