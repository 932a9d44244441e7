// SPDX-License-Identifier: Apache-2.0
// X.509 certificate revocation lists over OpenSSL: parsing, issuer signature, revocation lookup.

import COpenSSL
import FoundationEssentials

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
    public var thisUpdate: Date { Certificate.date(X509_CRL_get0_lastUpdate(handle.pointer)) }

    /// When the next CRL is due (nil when absent); a CRL past it is stale.
    public var nextUpdate: Date? {
        X509_CRL_get0_nextUpdate(handle.pointer).map { Certificate.date($0) }
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
