import ButlerModel
import ButlerServer
import Testing

/// The live feed's wake-up (issue 15): what a parked pull relies on to miss no commit.
@Suite("ChangeSignal")
struct ChangeSignalTests {
    let east = try! Zone("east-3")
    let west = try! Zone("west-1")

    @Test("a commit published between subscribing and waiting is not lost: the wait returns at once")
    func publishBeforeWait() async {
        let signal = ChangeSignal()
        let subscription = signal.subscribe(zones: [east])
        signal.publish(zones: [east])
        #expect(subscription.hasFired)
        #expect(await subscription.wait(upTo: .seconds(60)))
        subscription.cancel()
        #expect(signal.subscriptions == 0)
    }

    @Test("a commit in another zone does not wake; the wait ends at its time with nothing")
    func otherZone() async {
        let signal = ChangeSignal()
        let subscription = signal.subscribe(zones: [east])
        signal.publish(zones: [west])
        #expect(!subscription.hasFired)
        #expect(await subscription.wait(upTo: .milliseconds(50)) == false)
        subscription.cancel()
    }

    @Test("a parked wait wakes for its zone; every subscriber of the zone wakes, the others only for theirs")
    func wakesParked() async {
        let signal = ChangeSignal()
        let a = signal.subscribe(zones: [east])
        let b = signal.subscribe(zones: [east, west])
        let c = signal.subscribe(zones: [west])
        async let wokeA = a.wait(upTo: .seconds(60))
        async let wokeB = b.wait(upTo: .seconds(60))
        // Bounded: give the waits a moment to park, then publish (a wait that has not parked yet
        // returns at once anyway: the subscription is marked).
        try? await Task.sleep(for: .milliseconds(20))
        signal.publish(zones: [east])
        #expect(await wokeA)
        #expect(await wokeB)
        #expect(!c.hasFired)
        signal.publish(zones: [west])
        #expect(c.hasFired)
        for s in [a, b, c] { s.cancel() }
        #expect(signal.subscriptions == 0)
    }

    @Test("cancelling the waiting task ends the wait without a change")
    func cancellation() async {
        let signal = ChangeSignal()
        let subscription = signal.subscribe(zones: [east])
        let task = Task { await subscription.wait(upTo: .seconds(60)) }
        task.cancel()
        #expect(await task.value == false)
        subscription.cancel()
    }
}
