// SPDX-License-Identifier: Apache-2.0
// A verification check as a small named unit over its input, and the builder that composes checks.

/// One check of evidence (the report signature, the chain to a pinned root, the TCB against the
/// certificate, ...), in the spirit of swift-certificates' `VerifierPolicy`. A check never throws: it
/// returns what it confirmed and every failure it found, each with a stable code.
public protocol VerificationCheck<Input>: Sendable {
    /// What the check looks at (e.g. ``SNPVerification``, a `TDXQuote`, ``TDXVerification``).
    associatedtype Input
    func evaluate(_ input: Input) -> CheckResult
}

/// What checks concluded: the failures they found (in order) and the names of what they confirmed.
public struct CheckResult: Sendable, Equatable {
    public var failures: [VerificationFailure]
    public var passed: [String]

    public init(failures: [VerificationFailure] = [], passed: [String] = []) {
        self.failures = failures
        self.passed = passed
    }

    /// A passed check.
    public static func pass(_ name: String) -> CheckResult { CheckResult(passed: [name]) }
    /// A failed check.
    public static func fail(_ code: VerificationFailure.Code, _ message: String) -> CheckResult {
        CheckResult(failures: [VerificationFailure(code, message)])
    }

    public mutating func fail(_ code: VerificationFailure.Code, _ message: String) {
        failures.append(VerificationFailure(code, message))
    }

    public static func + (lhs: CheckResult, rhs: CheckResult) -> CheckResult {
        CheckResult(failures: lhs.failures + rhs.failures, passed: lhs.passed + rhs.passed)
    }

    public static func += (lhs: inout CheckResult, rhs: CheckResult) { lhs = lhs + rhs }
}

extension Sequence {
    /// Runs each check on `input`, in order, and gathers their results.
    public func evaluate<Input>(_ input: Input) -> CheckResult where Element == any VerificationCheck<Input> {
        reduce(into: CheckResult()) { result, check in result += check.evaluate(input) }
    }
}

/// Composes checks: `@VerificationChecks<SNPVerification> var checks { SNPReportSignatureCheck(); ... }`.
@resultBuilder
public enum VerificationChecks<Input> {
    public static func buildExpression(_ check: any VerificationCheck<Input>) -> [any VerificationCheck<Input>] {
        [check]
    }
    public static func buildBlock(_ parts: [any VerificationCheck<Input>]...) -> [any VerificationCheck<Input>] {
        parts.flatMap { $0 }
    }
    public static func buildOptional(_ part: [any VerificationCheck<Input>]?) -> [any VerificationCheck<Input>] {
        part ?? []
    }
    public static func buildEither(first part: [any VerificationCheck<Input>]) -> [any VerificationCheck<Input>] {
        part
    }
    public static func buildEither(second part: [any VerificationCheck<Input>]) -> [any VerificationCheck<Input>] {
        part
    }
    public static func buildArray(_ parts: [[any VerificationCheck<Input>]]) -> [any VerificationCheck<Input>] {
        parts.flatMap { $0 }
    }
}
