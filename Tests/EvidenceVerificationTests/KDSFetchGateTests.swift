// SPDX-License-Identifier: Apache-2.0
// The bound on what unverified evidence can make a broker ask of AMD KDS.

import AMDKDS
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("KDS fetch gate")
struct KDSFetchGateTests {
    @Test("at most N fetches at once; the next is refused at once as throttled, and admitted after a leave")
    func concurrency() throws {
        let gate = KDSFetchGate(maximumConcurrent: 2)
        try gate.enter("https://kds/a")
        try gate.enter("https://kds/b")
        #expect(throws: KDSError(.throttled, "")) { try gate.enter("https://kds/c") }
        gate.leave("https://kds/a", failed: false)
        try gate.enter("https://kds/c")
    }

    @Test("a URL that failed is not asked again within the backoff; other URLs and later attempts are")
    func failureBackoff() throws {
        let gate = KDSFetchGate(maximumConcurrent: 4, failureBackoff: .milliseconds(300))
        try gate.enter("https://kds/made-up-chip")
        gate.leave("https://kds/made-up-chip", failed: true)
        #expect(throws: KDSError(.throttled, "")) { try gate.enter("https://kds/made-up-chip") }
        try gate.enter("https://kds/another")
        gate.leave("https://kds/another", failed: false)
        usleep(400_000)
        try gate.enter("https://kds/made-up-chip")
    }

    @Test("the remembered failures are bounded: the oldest is forgotten first")
    func boundedMemory() throws {
        let gate = KDSFetchGate(maximumConcurrent: 1, failureBackoff: .seconds(60), maximumRemembered: 2)
        for name in ["one", "two", "three"] {
            try gate.enter("https://kds/\(name)")
            gate.leave("https://kds/\(name)", failed: true)
        }
        try gate.enter("https://kds/one")  // forgotten
        gate.leave("https://kds/one", failed: false)
        #expect(throws: KDSError(.throttled, "")) { try gate.enter("https://kds/three") }
    }
}
