// SPDX-License-Identifier: Apache-2.0
// X.509 certificate revocation lists over OpenSSL: parsing, issuer signature, revocation lookup.

import AgentBase
import COpenSSL

/// Owns an `X509_CRL`.
final class CRLHandle {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { X509_CRL_free(pointer) }
}

/// An X.509 CRL (e.g. Intel's PCK Platform CA and Root CA CRLs).
public final class CertificateRevocationList: @unchecked Sendable {
    let handle: CRLHandle

    init(handle: CRLHandle) { self.handle = handle }

    /// Parses one DER CRL. Calls `d2i_X509_CRL`; trailing bytes are an error.
    public convenience init(der: [UInt8]) throws {
        var consumed = 0
        let crl: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            let result = d2i_X509_CRL(nil, &cursor, buffer.count)
            if let start = buffer.baseAddress, let cursor { consumed = cursor - start }
            return result
        }
        guard let crl else { throw CryptoError(.invalidCertificate, "failed to parse a DER CRL") }
        guard consumed == der.count else {
            X509_CRL_free(crl)
            throw CryptoError(.invalidCertificate, "failed to parse a DER CRL: \(der.count - consumed) trailing bytes")
        }
        self.init(handle: CRLHandle(crl))
    }

    /// Parses a PEM `X509 CRL` block or a DER CRL. Calls `PEM_read_bio_X509_CRL` for PEM.
    public static func parse(pemOrDER bytes: [UInt8]) throws -> CertificateRevocationList {
        guard bytes.starts(with: Array("-----BEGIN".utf8)) else { return try CertificateRevocationList(der: bytes) }
        guard let bio = BIO_new_mem_buf(bytes, Int32(bytes.count)) else {
            throw CryptoError(.internalFailure, "failed to allocate a BIO")
        }
        defer { BIO_free(bio) }
        guard let crl = PEM_read_bio_X509_CRL(bio, nil, nil, nil) else {
            throw CryptoError(.invalidCertificate, "failed to parse a PEM CRL: no valid X509 CRL block")
        }
        return CertificateRevocationList(handle: CRLHandle(crl))
    }

    /// The issuer in RFC 2253 form (compare with ``Certificate/subject``).
    public var issuer: String { Certificate.name(X509_CRL_get_issuer(handle.pointer)) }

    /// When this CRL was issued.
    public var thisUpdate: Timestamp { Certificate.timestamp(X509_CRL_get0_lastUpdate(handle.pointer)) }

    /// When the next CRL is due (nil when absent); a CRL past it is stale.
    public var nextUpdate: Timestamp? {
        X509_CRL_get0_nextUpdate(handle.pointer).map { Certificate.timestamp($0) }
    }

    /// The number of revoked entries.
    public var revokedCount: Int {
        // STACK_OF(X509_REVOKED) is an OPENSSL_STACK underneath; the typed sk_ macros do not import.
        guard let stack = X509_CRL_get_REVOKED(handle.pointer) else { return 0 }
        return Int(OPENSSL_sk_num(stack))
    }

    /// Whether the CRL's signature verifies under `issuer`'s public key. Calls `X509_CRL_verify`.
    public func isSignature(issuedBy issuer: Certificate) -> Bool {
        guard let key = X509_get0_pubkey(issuer.handle.pointer) else { return false }
        defer { _ = CryptoError.drainErrorQueue() }
        return X509_CRL_verify(handle.pointer, key) == 1
    }

    /// Whether `certificate` (by issuer name and serial number) is listed. Calls `X509_CRL_get0_by_cert`.
    public func isRevoked(_ certificate: Certificate) -> Bool {
        var entry: OpaquePointer?
        defer { _ = CryptoError.drainErrorQueue() }
        return X509_CRL_get0_by_cert(handle.pointer, &entry, certificate.handle.pointer) == 1
    }
}

extension CertificateRevocationList {
    /// Builds and signs a v2 CRL (for test CAs and the simulator): `issuer`'s name, the revoked serial
    /// numbers (big-endian magnitudes), and this/next update. RSASSA-PSS (salt = digest length) when
    /// `rsaPSS`, else ECDSA or PKCS#1 by key type. Calls `X509_CRL_sign_ctx`.
    public static func sign(
        issuer: [(String, String)], revokedSerialNumbers: [[UInt8]], thisUpdate: Timestamp, nextUpdate: Timestamp,
        key: PrivateKey, alg: DigestAlgorithm, rsaPSS: Bool
    ) throws -> CertificateRevocationList {
        guard let crl = X509_CRL_new() else { throw CryptoError(.internalFailure, "failed to allocate a CRL") }
        let owner = CRLHandle(crl)
        guard X509_CRL_set_version(crl, 1) == 1, let name = X509_NAME_new() else {
            throw CryptoError(.internalFailure, "failed to start a CRL")
        }
        defer { X509_NAME_free(name) }
        try CertificateBuilder.fill(name, issuer)
        guard X509_CRL_set_issuer_name(crl, name) == 1 else {
            throw CryptoError(.internalFailure, "failed to set the CRL issuer")
        }
        try setTime(thisUpdate) { X509_CRL_set1_lastUpdate(crl, $0) }
        try setTime(nextUpdate) { X509_CRL_set1_nextUpdate(crl, $0) }
        for serial in revokedSerialNumbers {
            guard let entry = X509_REVOKED_new() else { throw CryptoError(.internalFailure, "failed to allocate") }
            let bignum = BN_bin2bn(serial.isEmpty ? [0] : serial, Int32(max(serial.count, 1)), nil)
            defer { BN_free(bignum) }
            guard let integer = BN_to_ASN1_INTEGER(bignum, nil) else {
                X509_REVOKED_free(entry)
                throw CryptoError(.internalFailure, "failed to encode a revoked serial number")
            }
            defer { ASN1_INTEGER_free(integer) }
            guard X509_REVOKED_set_serialNumber(entry, integer) == 1,
                (try? setTime(thisUpdate, { X509_REVOKED_set_revocationDate(entry, $0) })) != nil,
                X509_CRL_add0_revoked(crl, entry) == 1  // takes ownership of entry
            else {
                X509_REVOKED_free(entry)
                throw CryptoError(.internalFailure, "failed to add a revoked entry")
            }
        }
        guard X509_CRL_sort(crl) == 1, let context = EVP_MD_CTX_new() else {
            throw CryptoError(.internalFailure, "failed to prepare the CRL for signing")
        }
        defer { EVP_MD_CTX_free(context) }
        var keyContext: OpaquePointer?
        guard EVP_DigestSignInit(context, &keyContext, alg.evp, nil, key.handle.pointer) == 1 else {
            throw CryptoError(.invalidKey, "failed to start signing the CRL")
        }
        if rsaPSS {
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PSS_PADDING) == 1,
                EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, Int32(alg.outputByteCount)) == 1,
                EVP_PKEY_CTX_set_rsa_mgf1_md(keyContext, alg.evp) == 1
            else { throw CryptoError(.invalidKey, "failed to configure RSA-PSS (is the issuer key RSA?)") }
        }
        guard X509_CRL_sign_ctx(crl, context) > 0 else { throw CryptoError(.internalFailure, "failed to sign the CRL") }
        return CertificateRevocationList(handle: owner)
    }

    /// The DER encoding. Calls `i2d_X509_CRL`.
    public var der: [UInt8] {
        let length = i2d_X509_CRL(handle.pointer, nil)
        guard length > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: Int(length))
        out.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            _ = i2d_X509_CRL(handle.pointer, &cursor)
        }
        return out
    }

    private static func setTime(_ date: Timestamp, _ apply: (UnsafeMutablePointer<ASN1_TIME>) -> Int32) throws {
        guard let time = ASN1_TIME_set(nil, time_t(date.secondsSinceEpoch)) else {
            throw CryptoError(.internalFailure, "failed to encode a time")
        }
        defer { ASN1_TIME_free(time) }
        guard apply(time) == 1 else { throw CryptoError(.internalFailure, "failed to set a CRL time") }
    }
}
