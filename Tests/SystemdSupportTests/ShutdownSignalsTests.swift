// SPDX-License-Identifier: Apache-2.0
// ShutdownSignals with real signals sent to this process (SIGUSR1/SIGUSR2: the test runner's SIGTERM stays its own).

import SystemdSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Shutdown signals", .serialized, .timeLimit(.minutes(1)))
struct ShutdownSignalsTests {
    /// Polls `condition` for up to 5 s (a signal source fires on a Dispatch queue, not at once).
    func eventually(_ condition: () -> Bool) -> Bool {
        for _ in 0..<500 {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    @Test("a waiter wakes with the first signal; later signals neither change it nor kill the process")
    func firstSignalWins() async {
        let signals = ShutdownSignals([SIGUSR1, SIGUSR2])
        #expect(signals.received == nil)
        async let woken = signals.wait()
        kill(getpid(), SIGUSR2)
        #expect(await woken == SIGUSR2)
        // A second signal of either kind during the shutdown: still the first one, and we are alive.
        kill(getpid(), SIGUSR1)
        kill(getpid(), SIGUSR2)
        usleep(100_000)
        #expect(signals.received == SIGUSR2)
        #expect(await signals.wait() == SIGUSR2)
    }

    @Test("a signal that arrives before anyone waits is remembered, and wait() returns at once")
    func signalBeforeWait() async {
        let signals = ShutdownSignals([SIGUSR1])
        kill(getpid(), SIGUSR1)
        #expect(eventually { signals.received == SIGUSR1 })
        #expect(await signals.wait() == SIGUSR1)
    }
}
