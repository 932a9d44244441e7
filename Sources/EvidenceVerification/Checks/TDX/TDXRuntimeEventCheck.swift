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
        for (position, event) in log.events.enumerated() {
            guard let runtime = RuntimeEvent(event) else { continue }
            guard event.sha384 == DigestAlgorithm.sha384.hash(event.eventData) else {
                result.fail(
                    .runtimeEventMismatch,
                    "event log: runtime event \(position) ('\(runtime.text.prefix(120))') does not match its digest")
                continue
            }
        }
        if result.failures.isEmpty { result.passed.append("runtime events match their digests") }
        return result
    }
}
