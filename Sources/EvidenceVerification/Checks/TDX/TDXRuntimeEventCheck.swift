// SPDX-License-Identifier: Apache-2.0
// Runtime (AAEL) events carry their own text: its SHA-384 must be the digest that was replayed.

import Cryptography
import TEEEvidence

/// Every AAEL event of the log (guest-components' and ccagent's runtime events) has digest =
/// SHA-384(event data). The replay binds the digests; this binds the text a broker reads as a claim.
public struct TDXRuntimeEventCheck: VerificationCheck {
    public init() {}

    public func evaluate(_ log: CCELEventLog) -> CheckResult {
        var result = CheckResult()
        var count = 0
        for (position, event) in log.events.enumerated() {
            guard let runtime = RuntimeEvent(event) else { continue }
            count += 1
            if event.sha384 != DigestAlgorithm.sha384.hash(event.eventData) {
                result.fail(
                    .runtimeEventMismatch,
                    "event log: runtime event \(position) ('\(runtime.text.prefix(120))') does not match its digest")
            }
        }
        if result.failures.isEmpty && count > 0 {
            result.passed.append("\(count) runtime event(s) match their digests")
        }
        return result
    }
}
