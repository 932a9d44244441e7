// SPDX-License-Identifier: Apache-2.0
// The RCAR 0.4.0 server logic, independent of HTTP: sessions, evidence verification, policy, tokens, JWE.

import AMDKDS
import AgentBase
import CanonicalJSON
import Cryptography
import EvidenceVerification
import Foundation
import KBSProtocol
import Logging
import SecureMemory
import TEEEvidence

/// An HTTP exchange as the broker sees it.
public struct BrokerRequest: Sendable {
    public var method: String
    public var path: String
    public var cookie: String?
    public var bearer: String?
    public var body: [UInt8]
    public var peer: String

    public init(method: String, path: String, cookie: String?, bearer: String?, body: [UInt8], peer: String) {
        self.method = method
        self.path = path
        self.cookie = cookie
        self.bearer = bearer
        self.body = body
        self.peer = peer
    }
}

public struct BrokerResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
    public var setCookie: String?
}

/// Settings of one broker instance.
public struct BrokerConfiguration: Sendable {
    public var resources: ResourceStore
    public var policy: AppraisalPolicy
    public var allowSample: Bool
    /// No reference values were configured and the operator said so (`--allow-any-measurement`): any genuine,
    /// non-debug guest is released every resource. Named in every audit line.
    public var allowAnyMeasurement = false
    /// Simulator roots (PEM) trusted explicitly; never by default.
    public var trustedSimulatorRoots: [Certificate]
    /// Extra certificates (VCEK/VLEK/ASK…) from a directory.
    public var certificates: [Certificate]
    public var sessionLifetime: TimeInterval = 300
    public var tokenLifetime: TimeInterval = 300
    public var maximumSessions = 10_000
    /// Intel PCS collateral for TDX TCB status, when configured.
    public var tdxCollateral: TDXCollateral?
    /// AMD KDS (or its cache) for SNP evidence that carries no VCEK; nil with --no-kds.
    public var kds: KDSClient?
    /// Also require AMD's CRL of the product from `kds` (--kds-crl).
    public var kdsRevocation = false

    public init(
        resources: ResourceStore, policy: AppraisalPolicy = AppraisalPolicy(), allowSample: Bool = false,
        trustedSimulatorRoots: [Certificate] = [], certificates: [Certificate] = []
    ) {
        self.resources = resources
        self.policy = policy
        self.allowSample = allowSample
        self.trustedSimulatorRoots = trustedSimulatorRoots
        self.certificates = certificates
    }
}

/// The broker. Thread-safe: sessions live behind a lock.
public final class KBSBroker: @unchecked Sendable {
    let configuration: BrokerConfiguration
    let tokenKey: PrivateKey
    let audit: Logger
    private let lock = NSLock()
    private var sessions: [String: Session] = [:]

    struct Session {
        var tee: String
        var nonce: String
        var expires: Date
        var token: String?
    }

    public init(configuration: BrokerConfiguration, audit: Logger = Logger(label: "ccbroker.audit")) throws {
        self.configuration = configuration
        self.tokenKey = try PrivateKey.generateEC(.p256)
        var audit = audit
        if configuration.allowAnyMeasurement {
            audit[metadataKey: "policy"] = "allow-any-measurement"
        }
        self.audit = audit
    }

    /// Handles one request under `/kbs/v0`.
    public func handle(_ request: BrokerRequest) -> BrokerResponse {
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // "/kbs/v0/<plugin>/..." → ["", "kbs", "v0", plugin, ...]
        guard parts.count >= 4, parts[1] == "kbs", parts[2] == "v0" else {
            return error(404, "InvalidRequestPath", "Invalid request path \(request.path)")
        }
        // As Trustee routes: auth and attest exist only as POST (any other method falls through to the plugin
        // lookup, which has no such plugin); the resource plugin checks the token and the policy before it
        // parses the path, so a malformed path is the plugin's error (401), never a 404 that probes paths.
        switch (request.method, parts[3]) {
        case ("POST", "auth"): return auth(request)
        case ("POST", "attest"): return attest(request)
        case ("GET", "resource"): return getResource(parts.dropFirst(4).joined(separator: "/"), request)
        case ("POST", "resource"), ("DELETE", "resource"):
            return error(
                401, "AdminAuthAccess", "Admin auth error: this broker has no admin API (use ccbroker resource)")
        case (_, "resource"): return error(401, "PluginInternalError", "Plugin internal error")
        default:
            return error(404, "PluginNotFound", "Plugin \(parts[3]) not found")
        }
    }

    // MARK: /auth

    private func auth(_ request: BrokerRequest) -> BrokerResponse {
        guard let json = try? JSONValue.parse(request.body), let auth = try? AuthRequest(json: json) else {
            return attestationError(
                "RCAR handshake Auth failed: deserialize Request", peer: request.peer, reason: "malformed /auth body")
        }
        if let refusal = auth.versionRefusal {
            return attestationError(
                "RCAR handshake Auth failed: \(refusal)", peer: request.peer, reason: "protocol version \(auth.version)"
            )
        }
        guard ["snp", "tdx", "az-snp-vtpm", "az-tdx-vtpm", "sample"].contains(auth.tee) else {
            return attestationError(
                "RCAR handshake Auth failed: unsupported TEE \(auth.tee)", peer: request.peer, reason: "tee \(auth.tee)"
            )
        }
        let id = SecureRandom.bytes(16).map { String(format: "%02x", $0) }.joined()
        let nonce = Base64.encode(SecureRandom.bytes(32))
        let expires = Date().addingTimeInterval(configuration.sessionLifetime)
        lock.withLock {
            let now = Date()
            sessions = sessions.filter { $0.value.expires > now }
            if sessions.count >= configuration.maximumSessions,
                let oldest = sessions.min(by: { $0.value.expires < $1.value.expires })
            {
                sessions[oldest.key] = nil
            }
            sessions[id] = Session(tee: auth.tee, nonce: nonce, expires: expires, token: nil)
        }
        return BrokerResponse(
            status: 200, body: Challenge(nonce: nonce).json.serializedBytes(), setCookie: cookie(id, expires))
    }

    // MARK: /attest

    private func attest(_ request: BrokerRequest) -> BrokerResponse {
        let failure = { (reason: String) -> BrokerResponse in
            self.attestationError("RCAR handshake Attest failed", peer: request.peer, reason: reason)
        }
        guard let id = request.cookie else { return failure("no session cookie") }
        guard let session = lock.withLock({ sessions[id] }), session.expires > Date() else {
            return failure("unknown or expired session")
        }
        if let token = session.token {
            return BrokerResponse(
                status: 200, body: JSONValue.object([("token", .string(token))]).serializedBytes(),
                setCookie: cookie(id, session.expires))
        }
        let attestation: AttestationRequest
        do {
            attestation = try AttestationRequest(json: JSONValue.parse(request.body))
        } catch {
            return failure("malformed attestation body: \(error)")
        }
        guard attestation.runtimeData.nonce == session.nonce else { return failure("nonce mismatch") }
        let digest = attestation.runtimeData.digest(.sha384)
        let claims: JSONValue
        switch verify(tee: session.tee, evidence: attestation.primaryEvidence, digest: digest) {
        case .failure(let reason): return failure(reason)
        case .success(let value): claims = value
        }
        let token: String
        do {
            token = try issueToken(tee: session.tee, claims: claims, runtime: attestation.runtimeData)
        } catch {
            return failure("failed to sign the token: \(error)")
        }
        lock.withLock { sessions[id]?.token = token }
        audit.info(
            "attest allow",
            metadata: [
                "peer": "\(request.peer)", "tee": "\(session.tee)",
                "key": "\(attestation.runtimeData.teePubKey.algorithm)",
            ])
        return BrokerResponse(
            status: 200, body: JSONValue.object([("token", .string(token))]).serializedBytes(),
            setCookie: cookie(id, session.expires))
    }

    /// Verified evidence: its claims, or the reason it is not accepted.
    enum Verdict { case success(JSONValue), failure(String) }

    private func verify(tee: String, evidence: JSONValue, digest: [UInt8]) -> Verdict {
        let expected = Array((digest + [UInt8](repeating: 0, count: 64)).prefix(64))
        switch tee {
        case "sample":
            guard configuration.allowSample else {
                return .failure("sample evidence is not accepted (start with --allow-sample)")
            }
            guard let reported = try? EvidenceJSON.parseSample(evidence), reported == digest else {
                return .failure("sample report_data does not bind the runtime data")
            }
            return .success(
                .object([
                    ("sample", .object([("svn", .string("1"))])), ("report_data", .string(Hex.encode(digest))),
                ]))
        case "snp": return verifySNP(evidence, expectedReportData: expected)
        case "tdx": return verifyTDX(evidence, expectedReportData: expected)
        case "az-snp-vtpm", "az-tdx-vtpm": return verifyAzure(evidence, tee: tee, expectedReportData: digest)
        default:
            return .failure("TEE '\(tee)' is not supported by this broker")
        }
    }

    // MARK: resources

    private func getResource(_ path: String, _ request: BrokerRequest) -> BrokerResponse {
        let parsed = ResourcePath(path)
        // What the audit log names: the parsed path, or the received one made printable and bounded (it is the
        // client's text, and the log must not carry its control characters).
        let resource =
            parsed.map(\.description)
            ?? String(
                String.UnicodeScalarView(
                    path.unicodeScalars.prefix(200).map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? $0 : "?" }
                ))
        var token = request.bearer
        if token == nil, let id = request.cookie {
            token = lock.withLock { sessions[id].flatMap { $0.expires > Date() ? $0.token : nil } }
        }
        guard let token else {
            audit.notice(
                "resource deny", metadata: ["peer": "\(request.peer)", "resource": "\(resource)", "rule": "no token"])
            return error(401, "TokenNotFound", "Attestation Token not found")
        }
        guard let claims = verifyToken(token) else {
            audit.notice(
                "resource deny",
                metadata: ["peer": "\(request.peer)", "resource": "\(resource)", "rule": "token invalid or expired"])
            return error(401, "TokenVerifierError", "Token Verifier error")
        }
        let evidence = claims["submods"]?["cpu0"]?["ear.veraison.annotated-evidence"]
        guard let keyJSON = evidence?["runtime_data_claims"]?["tee-pubkey"], let key = try? TEEPublicJWK(json: keyJSON)
        else {
            audit.notice(
                "resource deny",
                metadata: [
                    "peer": "\(request.peer)", "resource": "\(resource)",
                    "rule": "unreadable evidence: the token has no readable tee-pubkey",
                ])
            return error(401, "TokenVerifierError", "Token Verifier error")
        }
        let tee = evidence?["tee"]?.stringValue
        let failures = configuration.policy.rules(for: parsed).appraise(
            tee: tee, evidence: evidence, allowSample: configuration.allowSample)
        guard failures.isEmpty else {
            audit.notice(
                "resource deny",
                metadata: [
                    "peer": "\(request.peer)", "tee": "\(tee ?? "?")", "resource": "\(resource)",
                    "rule": "\(failures.joined(separator: "; "))",
                ])
            return error(401, "PolicyDeny", "Access denied by policy")
        }
        guard let parsed else {
            audit.notice(
                "resource deny",
                metadata: [
                    "peer": "\(request.peer)", "tee": "\(tee ?? "?")", "resource": "\(resource)",
                    "rule": "malformed resource path (REPO/TYPE/TAG)",
                ])
            return error(401, "PluginInternalError", "Plugin internal error")
        }
        let value: SecretBytes?
        do {
            value = try configuration.resources.get(parsed)
        } catch {
            value = nil
        }
        guard let value else {
            audit.notice(
                "resource missing",
                metadata: ["peer": "\(request.peer)", "tee": "\(tee ?? "?")", "resource": "\(resource)"])
            return error(401, "PluginInternalError", "Plugin internal error")
        }
        do {
            let jwe = try JWE.encrypt(value, to: key)
            audit.info(
                "resource allow",
                metadata: [
                    "peer": "\(request.peer)", "tee": "\(tee ?? "?")", "resource": "\(resource)",
                    "key": "\(key.algorithm)",
                ])
            return BrokerResponse(status: 200, body: jwe.json.serializedBytes(), setCookie: nil)
        } catch {
            return self.error(401, "JweError", "JWE failed")
        }
    }

    // MARK: tokens (ES256 JWT shaped like Trustee's EAR token)

    func issueToken(tee: String, claims: JSONValue, runtime: RuntimeData) throws -> String {
        let now = Int(Date().timeIntervalSince1970)
        guard let (_, x, y) = tokenKey.publicKey.ecCoordinates else { throw BrokerError("token key is not EC") }
        var annotated: [(String, JSONValue)] = [("tee", .string(tee))]
        if case .object(let members) = claims { annotated += members }
        annotated.append(
            (
                "runtime_data_claims",
                .object([("tee-pubkey", runtime.teePubKey.json), ("nonce", .string(runtime.nonce))])
            ))
        let header = JSONValue.object([
            ("alg", .string("ES256")),
            (
                "jwk",
                .object([
                    ("kty", .string("EC")), ("crv", .string("P-256")), ("alg", .string("ES256")),
                    ("x", .string(Base64.encodeURL(x))), ("y", .string(Base64.encodeURL(y))),
                ])
            ),
        ])
        let payload = JSONValue.object([
            ("eat_profile", .string("tag:github.com,2024:confidential-containers/Trustee")),
            ("iat", .integer(now)), ("exp", .integer(now + Int(configuration.tokenLifetime))),
            ("iss", .string("ccbroker")),
            ("ear.verifier-id", .object([("developer", .string("ccagent")), ("build", .string("ccbroker 0.1.0"))])),
            (
                "submods",
                .object([
                    (
                        "cpu0",
                        .object([
                            ("ear.status", .string("affirming")), ("ear.appraisal-policy-id", .string("default")),
                            ("ear.veraison.annotated-evidence", .object(annotated)),
                        ])
                    )
                ])
            ),
        ])
        let signingInput =
            Base64.encodeURL(header.serializedBytes()) + "." + Base64.encodeURL(payload.serializedBytes())
        let (r, s) = try tokenKey.signECDSA(.sha256, data: Array(signingInput.utf8))
        return signingInput + "." + Base64.encodeURL(r + s)
    }

    /// The claims of a token this broker signed and that has not expired; nil otherwise.
    func verifyToken(_ token: String) -> JSONValue? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, token.utf8.count < 64 * 1024, let signature = Base64.decodeURL(parts[2]),
            signature.count == 64,
            tokenKey.publicKey.verifyECDSA(
                .sha256, r: Array(signature[0..<32]), s: Array(signature[32...]),
                data: Array((parts[0] + "." + parts[1]).utf8)),
            let payloadBytes = Base64.decodeURL(parts[1]), let payload = try? JSONValue.parse(payloadBytes),
            let exp = payload["exp"]?.uint64Value, Double(exp) > Date().timeIntervalSince1970
        else { return nil }
        return payload
    }

    // MARK: helpers

    private func cookie(_ id: String, _ expires: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return "kbs-session-id=\(id); Expires=\(formatter.string(from: expires))"
    }

    private func attestationError(_ detail: String, peer: String, reason: String) -> BrokerResponse {
        audit.notice("attest deny", metadata: ["peer": "\(peer)", "rule": "\(reason)"])
        return error(401, "AttestationError", "Attestation error: \(detail)")
    }

    private func error(_ status: Int, _ variant: String, _ detail: String) -> BrokerResponse {
        BrokerResponse(
            status: status, body: ErrorInformation(variant: variant, detail: detail).json.serializedBytes(),
            setCookie: nil)
    }
}
