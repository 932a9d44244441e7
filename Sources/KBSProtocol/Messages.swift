// SPDX-License-Identifier: Apache-2.0
// RCAR 0.4.0 messages: /auth request and challenge, runtime data, /attest body, resource paths.

import CanonicalJSON
import Cryptography

/// The protocol version both sides must speak exactly.
public let kbsProtocolVersion = "0.4.0"

/// The body of `POST /kbs/v0/auth`.
public struct AuthRequest: Sendable, Equatable {
    public var version: String
    public var tee: String
    /// `extra-params`: any JSON value, but present (Trustee's `Request` requires the member).
    public var extraParams: JSONValue

    public init(version: String = kbsProtocolVersion, tee: String) {
        self.version = version
        self.tee = tee
        // Every hash this agent can compute, as guest-components sends them (lower case).
        self.extraParams = .object([
            ("supported-hash-algorithms", .array(DigestAlgorithm.allCases.map { .string($0.rawValue) }))
        ])
    }

    public var json: JSONValue {
        .object([("version", .string(version)), ("tee", .string(tee)), ("extra-params", extraParams)])
    }

    /// Parses a received request as Trustee does: `version`, `tee` and `extra-params` must all be present.
    public init(json: JSONValue) throws {
        guard case .object = json, let version = json["version"]?.stringValue, let tee = json["tee"]?.stringValue,
            let extraParams = json["extra-params"]
        else {
            throw KBSError(.invalidRequest, "deserialize Request")
        }
        self.version = version
        self.tee = tee
        self.extraParams = extraParams
    }

    /// Why the request's version is refused, in Trustee's words; nil when it satisfies `=0.4.0`.
    public var versionRefusal: String? {
        guard let parsed = SemanticVersion(version) else { return "failed to parse KBS version" }
        guard let required = SemanticVersion(kbsProtocolVersion), parsed.matchesExactly(required) else {
            return "KBS Client Protocol Version Mismatch: expect =\(kbsProtocolVersion) while the request is \(version)"
        }
        return nil
    }
}

/// The 200 answer of `/auth`.
public struct Challenge: Sendable, Equatable {
    public var nonce: String
    /// `selected-hash-algorithm` when the broker chose one (extra-params may be `""` or an object).
    public var selectedHash: DigestAlgorithm

    public init(nonce: String, selectedHash: DigestAlgorithm = .sha384) {
        self.nonce = nonce
        self.selectedHash = selectedHash
    }

    public var json: JSONValue { .object([("nonce", .string(nonce)), ("extra-params", .string(""))]) }

    public init(json: JSONValue) throws {
        guard let nonce = json["nonce"]?.stringValue, !nonce.isEmpty, nonce.utf8.count <= 4096 else {
            throw KBSError(.malformedResponse, "the challenge has no 'nonce'")
        }
        self.nonce = nonce
        selectedHash = .sha384
        if let extra = json["extra-params"], case .object = extra, let selected = extra["selected-hash-algorithm"] {
            guard let name = selected.stringValue?.lowercased() else {
                throw KBSError(.malformedResponse, "'selected-hash-algorithm' is not a string")
            }
            guard let algorithm = DigestAlgorithm(rawValue: name) else {
                throw KBSError(
                    .malformedResponse, "the broker selected hash '\(name)', which this agent does not support")
            }
            selectedHash = algorithm
        }
    }
}

/// The runtime data bound into the report: `{"additional-evidence":"","nonce":…,"tee-pubkey":…}`.
public struct RuntimeData: Sendable, Equatable {
    public var nonce: String
    public var teePubKey: TEEPublicJWK
    public var additionalEvidence: String

    public init(nonce: String, teePubKey: TEEPublicJWK, additionalEvidence: String = "") {
        self.nonce = nonce
        self.teePubKey = teePubKey
        self.additionalEvidence = additionalEvidence
    }

    /// RFC 8785 bytes that are hashed.
    public var canonicalBytes: [UInt8] {
        JSONValue.object([
            ("additional-evidence", .string(additionalEvidence)), ("nonce", .string(nonce)),
            ("tee-pubkey", teePubKey.json),
        ]).canonicalBytes()
    }

    public func digest(_ algorithm: DigestAlgorithm) -> [UInt8] { algorithm.hash(canonicalBytes) }

    /// The digest zero-padded (or truncated) to the 64 bytes of SNP REPORT_DATA / TDX REPORTDATA.
    public func reportData(_ algorithm: DigestAlgorithm) -> [UInt8] {
        let digest = digest(algorithm)
        return Array((digest + [UInt8](repeating: 0, count: 64)).prefix(64))
    }
}

/// The body of `POST /kbs/v0/attest`.
public struct AttestationRequest: Sendable, Equatable {
    public var runtimeData: RuntimeData
    public var primaryEvidence: JSONValue

    public init(runtimeData: RuntimeData, primaryEvidence: JSONValue) {
        self.runtimeData = runtimeData
        self.primaryEvidence = primaryEvidence
    }

    public var json: JSONValue {
        .object([
            ("init-data", .null),
            (
                "runtime-data",
                .object([("nonce", .string(runtimeData.nonce)), ("tee-pubkey", runtimeData.teePubKey.json)])
            ),
            (
                "tee-evidence",
                .object([
                    ("primary_evidence", primaryEvidence),
                    ("additional_evidence", .string(runtimeData.additionalEvidence)),
                ])
            ),
        ])
    }

    public init(json: JSONValue) throws {
        guard let runtime = json["runtime-data"], let nonce = runtime["nonce"]?.stringValue,
            let key = runtime["tee-pubkey"], let evidence = json["tee-evidence"],
            let primary = evidence["primary_evidence"]
        else { throw KBSError(.invalidRequest, "the attestation body lacks runtime-data or tee-evidence") }
        let additional = evidence["additional_evidence"]?.stringValue ?? ""
        runtimeData = RuntimeData(nonce: nonce, teePubKey: try TEEPublicJWK(json: key), additionalEvidence: additional)
        primaryEvidence = primary
    }
}

/// `<repo>/<type>/<tag>`, each segment `[A-Za-z0-9_-][A-Za-z0-9_.-]*` as Trustee's resource regex.
public struct ResourcePath: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var repository: String
    public var type: String
    public var tag: String

    public init?(_ text: String) {
        var path = Substring(text)
        if path.hasPrefix("kbs:///") { path = path.dropFirst("kbs:///".count) }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, parts.allSatisfy(ResourcePath.isValidSegment) else { return nil }
        repository = parts[0]
        type = parts[1]
        tag = parts[2]
    }

    static func isValidSegment(_ segment: String) -> Bool {
        guard let first = segment.utf8.first, segment.utf8.count <= 128 else { return false }
        func allowed(_ c: UInt8, dot: Bool) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D
                || (dot && c == 0x2E)
        }
        return allowed(first, dot: false) && segment.utf8.allSatisfy { allowed($0, dot: true) }
    }

    public var description: String { "\(repository)/\(type)/\(tag)" }
}
