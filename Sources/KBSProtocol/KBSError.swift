// SPDX-License-Identifier: Apache-2.0
// Protocol errors: the broker's classified error bodies and our own failures, each with a stable code.

import AgentBase

/// A failure of the KBS protocol, classified so the client knows whether to retry or re-attest.
public struct KBSError: CodedError, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        public var description: String { name }
        public static let unreachable = Code(name: "broker.unreachable")
        public static let tls = Code(name: "broker.tls")
        public static let timeout = Code(name: "broker.timeout")
        public static let policyDeny = Code(name: "broker.policy-deny")
        public static let resourceMissing = Code(name: "broker.resource-missing")
        public static let attestationFailed = Code(name: "broker.attestation-failed")
        public static let tokenRejected = Code(name: "broker.token-rejected")
        public static let versionMismatch = Code(name: "broker.version")
        public static let serverError = Code(name: "broker.server-error")
        public static let malformedResponse = Code(name: "broker.malformed-response")
        public static let decryptionFailed = Code(name: "broker.decryption-failed")
        public static let responseTooLarge = Code(name: "broker.response-too-large")
        public static let insecureURL = Code(name: "broker.insecure-url")
        public static let invalidRequest = Code(name: "broker.invalid-request")
        public static let evidence = Code(name: "broker.evidence")
        public static let deadline = Code(name: "deadline.reached")
    }

    public var code: Code
    public var message: String
    /// `auth`, `attest` or `resource`.
    public var phase: String?
    public var url: String?
    public var httpStatus: Int?
    /// The server's `detail`, verbatim (it is the peer's text, shown quoted).
    public var serverDetail: String?

    public init(
        _ code: Code, _ message: String, phase: String? = nil, url: String? = nil, httpStatus: Int? = nil,
        serverDetail: String? = nil
    ) {
        self.code = code
        self.message = message
        self.phase = phase
        self.url = url
        self.httpStatus = httpStatus
        self.serverDetail = serverDetail
    }

    public var description: String {
        var text = message
        if let phase, let url {
            text = "\(phase) at '\(url)'" + (httpStatus.map { " (HTTP \($0))" } ?? "") + ": " + message
        }
        if let serverDetail { text += " — broker said: '\(serverDetail.prefix(300))'" }
        return text
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public var errorCode: ErrorCode { ErrorCode(code.description) }

    /// Whether trying again later (same attestation) may help.
    public var isTransient: Bool {
        [.unreachable, .timeout, .serverError].contains(code)
    }
}

/// Trustee's error body: `{"type":"https://github.com/confidential-containers/kbs/errors/<Variant>","detail":…}`.
public struct ErrorInformation: Sendable, Equatable {
    public static let typePrefix = "https://github.com/confidential-containers/kbs/errors/"

    public var variant: String
    public var detail: String

    public init(variant: String, detail: String) {
        self.variant = variant
        self.detail = detail
    }

    public var json: JSONValue {
        .object([("type", .string(ErrorInformation.typePrefix + variant)), ("detail", .string(detail))])
    }

    /// Parses an error body; nil when it is not Trustee's shape (e.g. an HTML error page).
    public init?(body: [UInt8]) {
        guard let value = try? JSONValue.parse(body), let type = value["type"]?.stringValue,
            type.hasPrefix(ErrorInformation.typePrefix)
        else { return nil }
        variant = String(type.dropFirst(ErrorInformation.typePrefix.count))
        detail = value["detail"]?.stringValue ?? ""
    }
}
