// SPDX-License-Identifier: Apache-2.0
// The RCAR client: auth → attest once → resources with the token; classified errors, bounded retries.

import AgentBase
import CanonicalJSON
import HTTPClient
import KBSProtocol
import Logging
import SecureMemory

/// Everything the client needs to know about the broker and its limits.
public struct KBSClientConfiguration: Sendable {
    public var brokerURL: String
    public var trust: TLSTrust
    public var allowInsecureHTTP: Bool
    public var keyType: TEEKeyType
    /// Overall budget for the whole exchange, retries included.
    public var deadlineSeconds: Double
    public var connectTimeoutSeconds: Double
    public var requestTimeoutSeconds: Double
    public var maximumResponseBytes: Int

    public init(
        brokerURL: String, trust: TLSTrust = .systemCAs, allowInsecureHTTP: Bool = false, keyType: TEEKeyType = .p256,
        deadlineSeconds: Double = 60, connectTimeoutSeconds: Double = 5, requestTimeoutSeconds: Double = 20,
        maximumResponseBytes: Int = 1 << 20
    ) {
        self.brokerURL = brokerURL
        self.trust = trust
        self.allowInsecureHTTP = allowInsecureHTTP
        self.keyType = keyType
        self.deadlineSeconds = deadlineSeconds
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.maximumResponseBytes = maximumResponseBytes
    }
}

/// A Trustee KBS (RCAR 0.4.0) client. One attestation per instance, reused for every resource.
///
/// Not thread-safe: one flow uses one client.
public final class KBSClient {
    public let configuration: KBSClientConfiguration
    let attester: any Attester
    let transport: HTTPTransport
    /// One connection (one TLS handshake) for the whole exchange: auth, attest and resources.
    let session: HTTPSession
    let deadline: Deadline
    var logger: Logger
    private let base: String

    private var keyPair: TEEKeyPair?
    private var cookie: String?
    private var token: String?
    /// Times the client attested (exposed for tests and status).
    public private(set) var attestationCount = 0

    public init(configuration: KBSClientConfiguration, attester: any Attester, logger: Logger? = nil) throws {
        let url = configuration.brokerURL
        guard url.hasPrefix("https://") || (url.hasPrefix("http://") && configuration.allowInsecureHTTP) else {
            throw KBSError(
                .insecureURL,
                url.hasPrefix("http://")
                    ? "refusing plain http broker '\(url)': secrets would cross the network unprotected; use https, "
                        + "or --allow-insecure-http for a test broker"
                    : "the broker URL '\(url)' is not an http(s) URL")
        }
        self.configuration = configuration
        self.attester = attester
        self.transport = HTTPTransport(
            trust: configuration.trust, allowInsecureHTTP: configuration.allowInsecureHTTP,
            maximumResponseBytes: configuration.maximumResponseBytes)
        self.session = HTTPSession(transport: transport)
        self.deadline = Deadline(secondsFromNow: configuration.deadlineSeconds)
        self.logger = logger ?? Logger(label: "ccagent.kbs")
        var trimmed = url
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        base = trimmed + "/kbs/v0"
    }

    /// Fetches a resource, attesting first if this client has not yet.
    public func fetch(_ path: ResourcePath) throws -> SecretBytes {
        if token == nil { try attest() }
        do {
            return try getResource(path)
        } catch let error as KBSError where error.code == .tokenRejected {
            // The session or token expired between attestation and this request: attest again, once.
            logger.debug("token rejected for \(path), re-attesting once")
            token = nil
            cookie = nil
            try attest()
            return try getResource(path)
        }
    }

    /// Runs /auth and /attest (with retries for transient failures within the deadline).
    ///
    /// The ephemeral key pair is generated on another thread while /auth is in flight: it is first needed
    /// for the runtime data, after the challenge. One pair serves every retry of this attestation.
    public func attest() throws {
        let pendingKeys = KeyPairInBackground(type: configuration.keyType)
        try withRetries(phase: "attest") {
            let challenge = try auth()
            let keys = try pendingKeys.value()
            let runtime = RuntimeData(nonce: challenge.nonce, teePubKey: keys.publicJWK)
            let digest = runtime.digest(challenge.selectedHash)
            // SNP/TDX report data is the digest zero-padded to 64 bytes; `sample` and Azure's vTPM evidence
            // take the digest itself (guest-components hands the hash unpadded to az-snp-vtpm/az-tdx-vtpm,
            // which put it in the TPM quote's qualifying data and the HCL user data; Trustee expects that).
            let reportData =
                KBSClient.takesUnpaddedDigest(attester.teeName)
                ? digest : runtime.reportData(challenge.selectedHash)
            let evidence: JSONValue
            do {
                evidence = try attester.evidence(digest: reportData)
            } catch {
                throw KBSError(.evidence, "failed to produce \(attester.teeName) evidence: \(error)", phase: "attest")
            }
            let body = AttestationRequest(runtimeData: runtime, primaryEvidence: evidence).json.serializedBytes()
            let response = try send("POST", "/attest", phase: "attest", body: body)
            guard let json = try? JSONValue.parse(response.body), let token = json["token"]?.stringValue,
                token.split(separator: ".").count == 3
            else {
                throw KBSError(
                    .malformedResponse, "the attestation response has no JWT 'token'", phase: "attest",
                    url: base + "/attest", httpStatus: response.status)
            }
            self.keyPair = keys
            self.token = token
            attestationCount += 1
            logger.debug("attested", metadata: ["tee": "\(attester.teeName)"])
        }
    }

    /// A dry `/auth` (no attestation): checks reachability, TLS trust and the protocol version.
    public func probe() throws {
        _ = try auth()
    }

    private func auth() throws -> Challenge {
        cookie = nil
        let response = try send(
            "POST", "/auth", phase: "auth", body: AuthRequest(tee: attester.teeName).json.serializedBytes())
        guard let json = try? JSONValue.parse(response.body) else {
            throw KBSError(
                .malformedResponse, "the challenge is not JSON", phase: "auth", url: base + "/auth",
                httpStatus: response.status)
        }
        let challenge: Challenge
        do {
            challenge = try Challenge(json: json)
        } catch var error as KBSError {
            error.phase = "auth"
            error.url = base + "/auth"
            throw error
        }
        guard cookie != nil else {
            throw KBSError(
                .malformedResponse, "the broker set no kbs-session-id cookie", phase: "auth", url: base + "/auth",
                httpStatus: response.status)
        }
        return challenge
    }

    private func getResource(_ path: ResourcePath) throws -> SecretBytes {
        try withRetries(phase: "resource") {
            let response = try send("GET", "/resource/\(path)", phase: "resource", body: nil)
            guard let keyPair, let json = try? JSONValue.parse(response.body) else {
                throw KBSError(
                    .malformedResponse, "the resource response is not JSON", phase: "resource",
                    url: base + "/resource/\(path)", httpStatus: response.status)
            }
            do {
                return try keyPair.decrypt(JWE(json: json))
            } catch var error as KBSError {
                error.phase = "resource"
                error.url = base + "/resource/\(path)"
                throw error
            }
        }
    }

    /// One HTTP exchange; non-2xx statuses become classified errors.
    private func send(_ method: String, _ path: String, phase: String, body: [UInt8]?) throws -> HTTPResponse {
        let url = base + path
        guard !deadline.hasPassed else {
            throw KBSError(
                .deadline, "the deadline of \(configuration.deadlineSeconds) s passed", phase: phase, url: url)
        }
        var headers = ["Accept: application/json", "Expect:"]
        if body != nil { headers.append("Content-Type: application/json") }
        if let cookie { headers.append("Cookie: kbs-session-id=\(cookie)") }
        if let token, phase == "resource" { headers.append("Authorization: Bearer \(token)") }
        let remaining = deadline.remaining
        let response: HTTPResponse
        do {
            response = try session.perform(
                method: method, url: url, headers: headers, body: body,
                connectTimeout: min(configuration.connectTimeoutSeconds, remaining),
                totalTimeout: min(configuration.requestTimeoutSeconds, remaining))
        } catch {
            var mapped = KBSError(transport: error)
            mapped.phase = phase
            mapped.url = url
            throw mapped
        }
        for header in response.setCookies {
            let pair = header.split(separator: ";").first.map { String($0).trimmingCharacters(in: " ") } ?? ""
            if pair.hasPrefix("kbs-session-id=") {
                let value = String(pair.dropFirst("kbs-session-id=".count))
                if !value.isEmpty, value.utf8.count <= 256,
                    value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x3B })
                {
                    cookie = value
                }
            }
        }
        guard (200..<300).contains(response.status) else {
            throw classify(response, phase: phase, url: url)
        }
        return response
    }

    private func classify(_ response: HTTPResponse, phase: String, url: String) -> KBSError {
        let status = response.status
        guard let info = ErrorInformation(body: response.body) else {
            let code: KBSError.Code = status >= 500 ? .serverError : .malformedResponse
            let kind =
                response.contentType?.hasPrefix("text/html") == true ? "an HTML page" : "a body that is not a KBS error"
            return KBSError(
                code, "the broker answered \(status) with \(kind); check that the URL points at a KBS and its logs",
                phase: phase, url: url, httpStatus: status)
        }
        let detail = info.detail
        switch info.variant {
        case "PolicyDeny":
            return KBSError(
                .policyDeny, "the broker's policy denied this resource; its log names the failing rule", phase: phase,
                url: url, httpStatus: status, serverDetail: detail)
        case "PluginInternalError", "ResourceNotFound":
            return KBSError(
                .resourceMissing,
                "the broker could not provide the resource (missing or backend error); check that it is stored",
                phase: phase, url: url, httpStatus: status, serverDetail: detail)
        case "TokenNotFound", "TokenVerifierError", "TokenExpired", "JwtVerificationError":
            return KBSError(
                .tokenRejected, "the broker rejected the session or token", phase: phase, url: url, httpStatus: status,
                serverDetail: detail)
        case "AttestationError" where detail.containsText("Version Mismatch"):
            return KBSError(
                .versionMismatch,
                "protocol version mismatch: this agent speaks \(kbsProtocolVersion), the broker expects "
                    + "\(detail.components(after: "expect ") ?? "another version")",
                phase: phase, url: url, httpStatus: status, serverDetail: detail)
        case "AttestationError":
            return KBSError(
                .attestationFailed,
                "the broker did not accept the evidence (policy, reference values or an expired session); "
                    + "its log says why",
                phase: phase, url: url, httpStatus: status, serverDetail: detail)
        default:
            return KBSError(
                status >= 500 ? .serverError : .attestationFailed, "the broker refused with '\(info.variant)'",
                phase: phase, url: url, httpStatus: status, serverDetail: detail)
        }
    }

    /// Retries transient failures with exponential backoff and jitter until the deadline.
    private func withRetries<T>(phase: String, _ body: () throws -> T) throws -> T {
        var delay = 0.25
        var attempt = 1
        while true {
            do {
                return try body()
            } catch let error as KBSError where error.isTransient {
                let wait = delay * Double.random(in: 0.5...1.0)
                guard deadline.remaining > wait + 0.05 else {
                    var final = error
                    final.message +=
                        " (gave up after \(attempt) attempts at the \(configuration.deadlineSeconds) s deadline)"
                    throw final
                }
                logger.debug(
                    "transient failure in \(phase), retrying", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
                deadline.sleep(wait)
                delay = min(delay * 2, 8)
                attempt += 1
            }
        }
    }
}

extension String {
    /// The text after the first occurrence of `marker`, up to the end.
    fileprivate func components(after marker: String) -> String? {
        let text = Array(utf8)
        let pattern = Array(marker.utf8)
        guard pattern.count <= text.count else { return nil }
        for start in 0...(text.count - pattern.count) where Array(text[start..<start + pattern.count]) == pattern {
            return String(decoding: text[(start + pattern.count)...], as: UTF8.self)
        }
        return nil
    }
}

extension KBSClient {
    /// TEEs whose evidence binds the runtime-data digest itself rather than the digest padded to 64 bytes.
    public static func takesUnpaddedDigest(_ tee: String) -> Bool {
        tee == "sample" || tee == "az-snp-vtpm" || tee == "az-tdx-vtpm"
    }
}
