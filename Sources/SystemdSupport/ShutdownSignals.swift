// SPDX-License-Identifier: Apache-2.0
// SIGTERM and SIGINT as a graceful-shutdown request a daemon can wait for.

import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Turns the first of some signals (by default SIGTERM, which systemd sends to stop a unit, and SIGINT)
/// into a request to shut down gracefully, which a daemon awaits with ``wait()``.
///
/// From `init` on, the signals no longer terminate the process: their disposition is `SIG_IGN` and a
/// Dispatch signal source (epoll and signalfd underneath) sees them, whatever thread the kernel picks —
/// the mechanism swift-service-lifecycle's `UnixSignals` uses. A signal that arrives before anyone
/// waits is remembered, so ``wait()`` then returns at once. Later signals (a second SIGTERM while the
/// daemon shuts down, or SIGINT after SIGTERM) are ignored: the shutdown under way finishes, and the
/// signals stay ignored after `deinit` so a late one cannot kill the process in its last steps.
public final class ShutdownSignals: @unchecked Sendable {
    // @unchecked: `sources` is written once in init and only cancelled in deinit; `state` is a Mutex.
    private let sources: [any DispatchSourceSignal]
    private let state = Mutex(State())

    private struct State {
        var received: Int32?
        var waiters: [CheckedContinuation<Int32, Never>] = []
    }

    /// Starts catching `signals` (their default action no longer applies) and returns once every
    /// source is registered, so a signal sent after `init` is never lost.
    public init(_ signals: [Int32] = [SIGTERM, SIGINT]) {
        let queue = DispatchQueue(label: "ccagent.shutdown-signals")
        var sources: [any DispatchSourceSignal] = []
        for number in signals {
            // Until the source is registered, the default action (terminate) must not apply. Dispatch then
            // installs its own handler, once per process: a later `SIG_IGN` would disable it, so only the
            // default disposition is replaced.
            var current = sigaction()
            if sigaction(number, nil, &current) == 0, current.__sigaction_handler.sa_handler == nil {
                signal(number, SIG_IGN)
            }
            sources.append(DispatchSource.makeSignalSource(signal: number, queue: queue))
        }
        self.sources = sources
        let registered = DispatchSemaphore(value: 0)
        for (number, source) in zip(signals, sources) {
            source.setEventHandler { [weak self] in self?.deliver(number) }
            source.setRegistrationHandler { registered.signal() }
            source.resume()
        }
        // Registration is asynchronous (Dispatch's manager thread); it takes microseconds.
        for _ in sources { _ = registered.wait(timeout: .now() + .seconds(5)) }
    }

    deinit {
        for source in sources { source.cancel() }
    }

    /// The first signal caught, or nil while none has arrived.
    public var received: Int32? { state.withLock { $0.received } }

    /// Waits for the first signal (returns at once when it already arrived) and returns its number.
    /// Task cancellation does not end the wait: only a signal does.
    public func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let already: Int32? = state.withLock { state in
                if let received = state.received { return received }
                state.waiters.append(continuation)
                return nil
            }
            if let already { continuation.resume(returning: already) }
        }
    }

    private func deliver(_ number: Int32) {
        let waiters: [CheckedContinuation<Int32, Never>] = state.withLock { state in
            // A shutdown is already under way: later signals change nothing.
            guard state.received == nil else { return [] }
            state.received = number
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: number) }
    }
}
