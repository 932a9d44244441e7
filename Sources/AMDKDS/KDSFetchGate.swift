// SPDX-License-Identifier: Apache-2.0
// What unauthenticated evidence can make a broker ask of AMD KDS: a few fetches at once, no repeats of a failure.

import Synchronization

/// Bounds the KDS requests a process makes on behalf of evidence nobody has verified yet (a broker fetches a
/// VCEK before the report's signature can be checked, so any client can make it ask AMD for made-up chips):
/// at most ``maximumConcurrent`` fetches at once, and a URL whose fetch just failed is not asked again for
/// ``failureBackoff`` seconds. Refusals are ``KDSError/Code/throttled``, at once, without touching the network.
public final class KDSFetchGate: Sendable {
    public let maximumConcurrent: Int
    public let failureBackoff: Duration
    /// How many failed URLs are remembered (the oldest are forgotten first).
    public let maximumRemembered: Int

    private struct State {
        var inFlight = 0
        var failed: [String: ContinuousClock.Instant] = [:]
    }
    private let state = Mutex(State())

    public init(maximumConcurrent: Int = 4, failureBackoff: Duration = .seconds(60), maximumRemembered: Int = 4096) {
        self.maximumConcurrent = max(1, maximumConcurrent)
        self.failureBackoff = failureBackoff
        self.maximumRemembered = max(1, maximumRemembered)
    }

    /// Takes a fetch slot for `url`, or throws `.throttled` (too many fetches in flight, or `url` failed within
    /// the backoff). Every successful `enter` must be followed by one ``leave(_:failed:)``.
    public func enter(_ url: String) throws(KDSError) {
        let now = ContinuousClock.now
        let refusal: String? = state.withLock { state in
            if let failedAt = state.failed[url] {
                if now - failedAt < failureBackoff {
                    return "this URL failed \(now - failedAt) ago; it is not asked again for \(failureBackoff)"
                }
                state.failed[url] = nil
            }
            guard state.inFlight < maximumConcurrent else {
                return "\(state.inFlight) KDS fetches are already in flight (at most \(maximumConcurrent))"
            }
            state.inFlight += 1
            return nil
        }
        if let refusal {
            throw KDSError(
                .throttled, refusal + "; try again later, or give the VCEK in the evidence or --cert-dir", url: url)
        }
    }

    /// Releases the slot `enter` took; a failed fetch is remembered for the backoff.
    public func leave(_ url: String, failed: Bool) {
        let now = ContinuousClock.now
        state.withLock { state in
            state.inFlight -= 1
            guard failed else { return }
            if state.failed.count >= maximumRemembered {
                let expired = state.failed.filter { now - $0.value >= failureBackoff }.map(\.key)
                for key in expired { state.failed[key] = nil }
                if state.failed.count >= maximumRemembered,
                    let oldest = state.failed.min(by: { $0.value < $1.value })?.key
                {
                    state.failed[oldest] = nil
                }
            }
            state.failed[url] = now
        }
    }
}
