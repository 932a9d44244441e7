// SPDX-License-Identifier: Apache-2.0
// FOUNDATION-DATE: the one file of ccagent that still imports FoundationEssentials, for the `Date` that
// EvidenceVerifier.verifySNP(at:), verifyTDX(at:), verifyAzure(at:) and SNPVerification(at:) take today.
// When those take AgentBase.Timestamp, this file becomes a Timestamp from RFC3339.secondsSinceEpoch.

import CommandLineInterface
import FoundationEssentials

extension VerificationOptions {
    /// The verification time: --at, else now.
    func time() throws -> Date {
        guard let at else { return Date() }
        guard let seconds = RFC3339.secondsSinceEpoch(at) else {
            throw ValidationError("--at must be an RFC 3339 time such as 2025-01-01T00:00:00Z, got '\(at)'")
        }
        return Date(timeIntervalSince1970: seconds)
    }
}

/// Now, for SNPVerification(at:) in `KDSOptions.verify`.
func currentTime() -> Date { Date() }
