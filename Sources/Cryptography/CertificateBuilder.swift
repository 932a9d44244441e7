// SPDX-License-Identifier: Apache-2.0
// Builds and signs X.509 certificates (the simulator's chains, test CAs).

import AgentBase
import COpenSSL

/// A certificate under construction. Extensions are added as raw DER (any OID) or in OpenSSL's
/// configuration syntax for the standard ones.
public struct CertificateBuilder {
    public var subject: [(String, String)]
    public var serial: [UInt8]
    public var notBefore: Timestamp
    public var notAfter: Timestamp
    public var publicKey: PublicKey
    var rawExtensions: [(oid: String, critical: Bool, der: [UInt8])] = []
    var configExtensions: [(name: String, value: String)] = []

    public init(
        subject: [(String, String)], serial: [UInt8], notBefore: Timestamp, notAfter: Timestamp, publicKey: PublicKey
    ) {
        self.subject = subject
        self.serial = serial
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.publicKey = publicKey
    }

    /// Adds an extension with its DER value (the extnValue contents).
    public mutating func addExtension(oid: String, critical: Bool, derValue: [UInt8]) {
        rawExtensions.append((oid, critical, derValue))
    }

    /// Marks the certificate as a CA (critical) or an end entity.
    public mutating func basicConstraints(ca: Bool) {
        configExtensions.append(("basicConstraints", ca ? "critical,CA:TRUE" : "critical,CA:FALSE"))
    }

    /// Sets key usage, e.g. `["digitalSignature", "keyCertSign", "cRLSign"]`.
    public mutating func keyUsage(_ usages: [String]) {
        configExtensions.append(("keyUsage", "critical," + usages.joined(separator: ",")))
    }

    /// Sets subject alternative names (DNS names and IP addresses).
    public mutating func subjectAltNames(dns: [String] = [], ip: [String] = []) {
        let names = dns.map { "DNS:\($0)" } + ip.map { "IP:\($0)" }
        configExtensions.append(("subjectAltName", names.joined(separator: ",")))
    }

    /// Signs with `key` under `issuer`'s name: RSASSA-PSS (salt = digest length, like AMD) when
    /// `rsaPSS`, else ECDSA or PKCS#1 by key type. Self-signed when `issuer == subject` and `key`
    /// matches `publicKey`.
    public func sign(
        issuer: [(String, String)], key: PrivateKey, alg: DigestAlgorithm, rsaPSS: Bool
    ) throws -> Certificate {
        guard let x509 = X509_new() else { throw CryptoError(.internalFailure, "failed to allocate a certificate") }
        let owner = X509Handle(x509)
        guard X509_set_version(x509, 2) == 1 else { throw CryptoError(.internalFailure, "failed to set version") }
        let serialBN = BN_bin2bn(serial.isEmpty ? [0] : serial, Int32(max(serial.count, 1)), nil)
        defer { BN_free(serialBN) }
        guard let serialASN1 = BN_to_ASN1_INTEGER(serialBN, nil) else {
            throw CryptoError(.internalFailure, "failed to encode the serial number")
        }
        defer { ASN1_INTEGER_free(serialASN1) }
        guard X509_set_serialNumber(x509, serialASN1) == 1,
            X509_set_pubkey(x509, publicKey.handle.pointer) == 1,
            ASN1_TIME_set(X509_getm_notBefore(x509), time_t(notBefore.secondsSinceEpoch)) != nil,
            ASN1_TIME_set(X509_getm_notAfter(x509), time_t(notAfter.secondsSinceEpoch)) != nil
        else { throw CryptoError(.internalFailure, "failed to fill the certificate") }
        try Self.fill(X509_get_subject_name(x509), subject)
        try Self.fill(X509_get_issuer_name(x509), issuer)

        for (name, value) in configExtensions {
            var context = X509V3_CTX()
            X509V3_set_ctx(&context, x509, x509, nil, nil, 0)
            guard let ext = X509V3_EXT_nconf(nil, &context, name, value) else {
                throw CryptoError(.invalidInput, "failed to build extension \(name)='\(value)'")
            }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(x509, ext, -1) == 1 else { throw CryptoError(.internalFailure, "failed to add \(name)") }
        }
        for raw in rawExtensions {
            guard let object = OBJ_txt2obj(raw.oid, 1) else {
                throw CryptoError(.invalidInput, "failed to parse OID '\(raw.oid)'")
            }
            defer { ASN1_OBJECT_free(object) }
            guard let octets = ASN1_OCTET_STRING_new() else {
                throw CryptoError(.internalFailure, "failed to allocate")
            }
            defer { ASN1_OCTET_STRING_free(octets) }
            guard ASN1_OCTET_STRING_set(octets, raw.der, Int32(raw.der.count)) == 1,
                let ext = X509_EXTENSION_create_by_OBJ(nil, object, raw.critical ? 1 : 0, octets)
            else { throw CryptoError(.internalFailure, "failed to build extension \(raw.oid)") }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(x509, ext, -1) == 1 else {
                throw CryptoError(.internalFailure, "failed to add extension \(raw.oid)")
            }
        }

        guard let context = EVP_MD_CTX_new() else { throw CryptoError(.internalFailure, "failed to allocate") }
        defer { EVP_MD_CTX_free(context) }
        var keyContext: OpaquePointer?
        guard EVP_DigestSignInit(context, &keyContext, alg.evp, nil, key.handle.pointer) == 1 else {
            throw CryptoError(.invalidKey, "failed to start signing the certificate")
        }
        if rsaPSS {
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PSS_PADDING) == 1,
                EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, Int32(alg.outputByteCount)) == 1,
                EVP_PKEY_CTX_set_rsa_mgf1_md(keyContext, alg.evp) == 1
            else { throw CryptoError(.invalidKey, "failed to configure RSA-PSS (is the issuer key RSA?)") }
        }
        guard X509_sign_ctx(x509, context) > 0 else { throw CryptoError(.internalFailure, "failed to sign") }
        return try Certificate(handle: owner)
    }

    static func fill(_ name: OpaquePointer?, _ entries: [(String, String)]) throws {
        guard let name else { throw CryptoError(.internalFailure, "failed to get a certificate name") }
        for (field, value) in entries {
            let bytes = Array(value.utf8)
            // MBSTRING_UTF8 = MBSTRING_FLAG (0x1000) | 0 — a composite macro.
            guard X509_NAME_add_entry_by_txt(name, field, 0x1000, bytes, Int32(bytes.count), -1, 0) == 1 else {
                throw CryptoError(.invalidInput, "failed to add name entry \(field)='\(value)'")
            }
        }
    }
}
