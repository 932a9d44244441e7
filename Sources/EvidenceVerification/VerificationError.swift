// SPDX-License-Identifier: Apache-2.0
// The EvidenceVerification module's error: inputs that could not be read (not evidence that failed checks).

/// An input to verification could not be read: a certificate file, a trust root, collateral.
/// Evidence that was read but failed a check is not an error: it is a rejected ``VerificationResult``.
public struct VerificationError: Error, CustomStringConvertible, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        public var description: String { name }
        /// A certificate (or trust root) file is neither PEM certificates nor one DER certificate.
        public static let unreadableCertificate = Code(name: "verification.unreadable-certificate")
        /// The collateral directory or one of its documents could not be read.
        public static let unreadableCollateral = Code(name: "verification.unreadable-collateral")
        /// The evidence itself could not be parsed (see `underlying` for the `EvidenceError`).
        public static let unreadableEvidence = Code(name: "verification.unreadable-evidence")
    }

    public var code: Code
    public var message: String
    public var underlying: (any Error)?

    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    public var description: String { underlying.map { "\(message): \($0)" } ?? message }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
}
