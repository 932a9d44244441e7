// SPDX-License-Identifier: Apache-2.0
// Why a certificate could not be had from AMD KDS or the cache, with stable codes (kds.*).

import AgentBase

/// A failure to obtain a VCEK or CRL from AMD KDS or the on-disk cache. The message says what failed,
/// why, and what to do next.
public struct KDSError: CodedError, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String
        /// KDS could not be reached (connection refused, DNS, reset).
        public static let unreachable = Code(description: "kds.unreachable")
        /// KDS did not answer within the timeout.
        public static let timeout = Code(description: "kds.timeout")
        /// The response exceeded the size cap.
        public static let tooLarge = Code(description: "kds.too-large")
        /// The TLS certificate of the KDS URL does not match the configured trust (--kds-ca).
        public static let tls = Code(description: "kds.tls")
        /// KDS answered with a status other than 200.
        public static let status = Code(description: "kds.http-status")
        /// What KDS (or the cache) returned is not AMD's certificate for this report.
        public static let invalidResponse = Code(description: "kds.invalid-response")
        /// Offline mode and nothing usable in the cache.
        public static let notCached = Code(description: "kds.not-cached")
        /// The report cannot be looked up: VLEK-signed, CHIP_ID masked, or an unknown product.
        public static let notFetchable = Code(description: "kds.not-fetchable")
        /// The KDS URL is not https (or http with permission).
        public static let insecureURL = Code(description: "kds.insecure-url")
        /// Not asked: too many fetches in flight, or the same URL failed moments ago (``KDSFetchGate``).
        public static let throttled = Code(description: "kds.throttled")
    }

    public var code: Code
    public var message: String
    /// The KDS URL involved, when there is one.
    public var url: String?

    public init(_ code: Code, _ message: String, url: String? = nil) {
        self.code = code
        self.message = message
        self.url = url
    }

    public var errorCode: ErrorCode { ErrorCode(code.description) }

    public var description: String { url.map { "AMD KDS '\($0)': \(message)" } ?? "AMD KDS: \(message)" }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
}
