// SPDX-License-Identifier: Apache-2.0
// The outcome of verifying evidence: trusted, or every failed check named with a typed failure.

import TEEEvidence

/// A verification outcome. Never a bare Bool: a rejection lists every check that failed.
public struct VerificationResult: Sendable, Equatable {
    /// Every failed check, in the order the checks ran; match their ``VerificationFailure/code`` exactly.
    public var rejections: [VerificationFailure]
    /// Checks that passed, for `--verbose` output and audit lines.
    public var passed: [String]
    /// The evidence summary.
    public var summary: EvidenceSummary

    /// Each failed check's message, `"<check>: <detail>"`, e.g. `"report signature: does not verify with the
    /// VCEK ..."` (the `failures` of `verify --json`).
    public var failures: [String] { rejections.map(\.message) }

    /// The codes of the failed checks, in order.
    public var codes: [VerificationFailure.Code] { rejections.map(\.code) }

    public var trusted: Bool { rejections.isEmpty }

    /// The result as a value to switch over: trusted with its details, or rejected with every failed check.
    public var outcome: Outcome {
        rejections.isEmpty ? .trusted(Details(passed: passed, summary: summary)) : .rejected(rejections)
    }

    /// What a trusted result carries.
    public struct Details: Sendable, Equatable {
        /// The checks that passed, e.g. `"report signature"`, `"vcek chain to AMD ARK-Milan"`.
        public var passed: [String]
        /// The evidence summary (the `evidence` object of `verify --json`).
        public var summary: EvidenceSummary
    }

    /// Trusted, or rejected naming each failed check.
    public enum Outcome: Sendable, Equatable {
        case trusted(Details)
        case rejected([VerificationFailure])
    }

    public init(rejections: [VerificationFailure], passed: [String], summary: EvidenceSummary) {
        self.rejections = rejections
        self.passed = passed
        self.summary = summary
    }

    /// The result of the checks that ran.
    public init(_ checks: CheckResult, summary: EvidenceSummary) {
        self.init(rejections: checks.failures, passed: checks.passed, summary: summary)
    }
}
