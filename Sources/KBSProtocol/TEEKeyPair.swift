// SPDX-License-Identifier: Apache-2.0
// The ephemeral TEE key whose public JWK is bound into the report and to which resources are encrypted.

import CanonicalJSON
import Cryptography
import SecureMemory

/// The key types the protocol allows for the tee-pubkey.
public enum TEEKeyType: String, Sendable, CaseIterable {
    case p256, p521, rsa

    /// The JWE `alg` the broker uses with this key.
    public var jweAlgorithm: String {
        switch self {
        case .p256, .p521: "ECDH-ES+A256KW"
        case .rsa: "RSA-OAEP-256"
        }
    }
}

/// The public half as the protocol sends it: exactly `{kty,crv,alg,x,y}` or `{kty,alg,n,e}`, nothing else.
public struct TEEPublicJWK: Sendable, Equatable {
    public var json: JSONValue
    public var key: PublicKey
    public var algorithm: String

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.json == rhs.json }

    /// Builds the JWK of `key`.
    public init(key: PublicKey) throws {
        self.key = key
        if let (curve, x, y) = key.ecCoordinates {
            guard curve == .p256 || curve == .p521 else {
                throw KBSError(.invalidRequest, "the tee-pubkey must be EC P-256 or P-521 (got \(curve.rawValue))")
            }
            algorithm = "ECDH-ES+A256KW"
            json = .object([
                ("kty", .string("EC")), ("crv", .string(curve.rawValue)), ("alg", .string(algorithm)),
                ("x", .string(Base64.encodeURL(x))), ("y", .string(Base64.encodeURL(y))),
            ])
        } else if let (n, e) = key.rsaComponents {
            algorithm = "RSA-OAEP-256"
            json = .object([
                ("kty", .string("RSA")), ("alg", .string(algorithm)), ("n", .string(Base64.encodeURL(n))),
                ("e", .string(Base64.encodeURL(e))),
            ])
        } else {
            throw KBSError(.invalidRequest, "the tee-pubkey must be an EC or RSA key")
        }
    }

    /// Parses a received JWK strictly, keeping only the members the protocol defines (as Trustee does
    /// before hashing), and checking the point is on its curve. The kept members are the strings exactly as
    /// received: the runtime-data hash covers them, so an RSA `n` with a leading zero byte (or any other
    /// encoding the key parser normalises) must still bind.
    public init(json received: JSONValue) throws {
        try self.init(parsing: received)
        let members: [String] =
            switch received["kty"]?.stringValue {
            case "EC": ["kty", "crv", "alg", "x", "y"]
            default: ["kty", "alg", "n", "e"]
            }
        json = .object(members.compactMap { name in received[name].map { (name, $0) } })
    }

    private init(parsing received: JSONValue) throws {
        guard case .object = received, let kty = received["kty"]?.stringValue, let alg = received["alg"]?.stringValue
        else { throw KBSError(.invalidRequest, "tee-pubkey is not a JWK with 'kty' and 'alg'") }
        switch kty {
        case "EC":
            guard alg == "ECDH-ES+A256KW", let crv = received["crv"]?.stringValue, let curve = Curve(rawValue: crv),
                curve == .p256 || curve == .p521, let x = received["x"]?.stringValue.flatMap(Base64.decodeURL),
                let y = received["y"]?.stringValue.flatMap(Base64.decodeURL),
                x.count == curve.coordinateByteCount, y.count == curve.coordinateByteCount
            else {
                throw KBSError(
                    .invalidRequest, "tee-pubkey: unsupported or malformed EC JWK (P-256/P-521 with ECDH-ES+A256KW)")
            }
            try self.init(key: PublicKey(curve: curve, x: x, y: y))
        case "RSA":
            guard alg == "RSA-OAEP-256", let n = received["n"]?.stringValue.flatMap(Base64.decodeURL),
                let e = received["e"]?.stringValue.flatMap(Base64.decodeURL)
            else { throw KBSError(.invalidRequest, "tee-pubkey: unsupported or malformed RSA JWK (RSA-OAEP-256)") }
            try self.init(key: PublicKey(rsaModulus: n, exponent: e))
        default:
            throw KBSError(.invalidRequest, "tee-pubkey: key type '\(kty)' is not supported")
        }
    }
}

/// An ephemeral key pair for one attestation; the private key never leaves this object.
public final class TEEKeyPair: Sendable {
    public let type: TEEKeyType
    let privateKey: PrivateKey
    public let publicJWK: TEEPublicJWK

    public init(type: TEEKeyType) throws {
        self.type = type
        switch type {
        case .p256: privateKey = try PrivateKey.generateEC(.p256)
        case .p521: privateKey = try PrivateKey.generateEC(.p521)
        case .rsa: privateKey = try PrivateKey.generateRSA(bits: 2048)
        }
        publicJWK = try TEEPublicJWK(key: privateKey.publicKey)
    }

    /// Wraps an existing private key (test vectors).
    public init(privateKey: PrivateKey, type: TEEKeyType) throws {
        self.type = type
        self.privateKey = privateKey
        publicJWK = try TEEPublicJWK(key: privateKey.publicKey)
    }

    /// Decrypts a resource response (flattened JWE) addressed to this key.
    public func decrypt(_ jwe: JWE) throws -> SecretBytes {
        try jwe.decrypt(with: privateKey, keyType: type)
    }
}
