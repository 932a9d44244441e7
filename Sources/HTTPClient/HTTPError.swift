// SPDX-License-Identifier: Apache-2.0
// Transport failures of an HTTP exchange, with stable codes (http.*); callers add their own hints.

import AgentBase

/// A request that did not produce an HTTP response: unreachable, timed out, too large, TLS trust.
/// HTTP error statuses are not errors here: ``HTTPTransport/perform(method:url:headers:body:connectTimeout:totalTimeout:)``
/// returns them.
public struct HTTPError: CodedError, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String
        /// No connection (refused, DNS, reset, handshake cut short): often transient.
        public static let unreachable = Code(description: "http.unreachable")
        /// The connect or total timeout passed.
        public static let timeout = Code(description: "http.timeout")
        /// The body exceeded the size cap and was abandoned.
        public static let tooLarge = Code(description: "http.too-large")
        /// The server's certificate does not match the configured trust (CA file, pin, system CAs).
        public static let tls = Code(description: "http.tls")
        /// The URL's scheme is not allowed (plain http without permission, or not http at all).
        public static let insecureURL = Code(description: "http.insecure-url")
    }

    public var code: Code
    /// What failed, and why.
    public var message: String
    public var url: String
    /// A TLS handshake that did not complete (a proxy or forward whose backend is down), as opposed to a
    /// refused connection; both are ``Code/unreachable``.
    public var handshakeIncomplete: Bool

    public init(_ code: Code, _ message: String, url: String, handshakeIncomplete: Bool = false) {
        self.code = code
        self.message = message
        self.url = url
        self.handshakeIncomplete = handshakeIncomplete
    }

    public var errorCode: ErrorCode { ErrorCode(code.description) }

    public var description: String { "request to '\(url)' failed: \(message)" }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
}
