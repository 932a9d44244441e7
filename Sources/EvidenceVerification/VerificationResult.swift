// SPDX-License-Identifier: Apache-2.0
// The outcome of verifying evidence: trusted, or every failed check named.

import TEEEvidence

/// A verification outcome. Never a bare Bool: a rejection lists every check that failed.
public struct VerificationResult: Sendable, Equatable {
    /// Each failed check as `"<check>: <detail>"`, e.g. `"report signature: does not verify with the VCEK"`.
    public var failures: [String]
    /// Checks that passed, for `--verbose` output and audit lines.
    public var passed: [String]
    /// The evidence summary.
    public var summary: EvidenceSummary

    public var trusted: Bool { failures.isEmpty }

    /// The result as a value to switch over: trusted with its details, or rejected with every failed check.
    public var outcome: Outcome {
        failures.isEmpty ? .trusted(Details(passed: passed, summary: summary)) : .rejected(failures)
    }

    /// What a trusted result carries.
    public struct Details: Sendable, Equatable {
        /// The checks that passed, e.g. `"report signature"`, `"vcek chain to AMD ARK-Milan"`.
        public var passed: [String]
        /// The evidence summary (the `evidence` object of `verify --json`).
        public var summary: EvidenceSummary
    }

    /// Trusted, or rejected naming each failed check (`"<check>: <detail>"`).
    public enum Outcome: Sendable, Equatable {
        case trusted(Details)
        case rejected([String])
    }

    public init(failures: [String], passed: [String], summary: EvidenceSummary) {
        self.failures = failures
        self.passed = passed
        self.summary = summary
    }
}
