// SPDX-License-Identifier: Apache-2.0
// X.509 certificates over OpenSSL: parsing, fields, extensions and signature checks.

import AgentBase
import COpenSSL
import SecureMemory

/// Owns an `X509`.
final class X509Handle {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { X509_free(pointer) }
}

/// An X.509 certificate.
public final class Certificate: @unchecked Sendable {
    let handle: X509Handle
    /// The subject public key, decoded once at parse time.
    public let publicKey: PublicKey

    /// Adopts a parsed `X509`; fails when its public key cannot be decoded (unsupported algorithm).
    init(handle: X509Handle) throws {
        guard let key = X509_get_pubkey(handle.pointer) else {
            throw CryptoError(
                .invalidCertificate, "failed to read the certificate's public key: unsupported or malformed key")
        }
        self.handle = handle
        self.publicKey = PublicKey(handle: PKeyHandle(key))
    }

    /// Parses one DER certificate. Calls `d2i_X509`; trailing bytes are an error.
    public convenience init(der: [UInt8]) throws {
        var consumed = 0
        let certificate: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            let result = d2i_X509(nil, &cursor, buffer.count)
            if let start = buffer.baseAddress, let cursor { consumed = cursor - start }
            return result
        }
        guard let certificate else {
            throw CryptoError(.invalidCertificate, "failed to parse a DER certificate")
        }
        guard consumed == der.count else {
            X509_free(certificate)
            throw CryptoError(
                .invalidCertificate, "failed to parse a DER certificate: \(der.count - consumed) trailing bytes")
        }
        try self.init(handle: X509Handle(certificate))
    }

    /// Parses a PEM bundle (one or more `CERTIFICATE` blocks) or a single DER certificate.
    public static func parse(pemOrDER bytes: [UInt8]) throws -> [Certificate] {
        guard
            bytes.starts(with: Array("-----BEGIN".utf8))
                || String(decoding: bytes.prefix(4096), as: UTF8.self)
                    .containsText("-----BEGIN CERTIFICATE-----")
        else { return [try Certificate(der: bytes)] }
        guard let bio = BIO_new_mem_buf(bytes, Int32(bytes.count)) else {
            throw CryptoError(.internalFailure, "failed to allocate a BIO")
        }
        defer { BIO_free(bio) }
        var certificates: [Certificate] = []
        while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
            certificates.append(try Certificate(handle: X509Handle(certificate)))
        }
        _ = CryptoError.drainErrorQueue()  // the end-of-input "no start line" is expected
        guard !certificates.isEmpty else {
            throw CryptoError(.invalidCertificate, "failed to parse PEM certificates: no valid CERTIFICATE block")
        }
        return certificates
    }

    /// The DER encoding. Calls `i2d_X509`.
    public var der: [UInt8] {
        let length = i2d_X509(handle.pointer, nil)
        guard length > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: Int(length))
        out.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            _ = i2d_X509(handle.pointer, &cursor)
        }
        return out
    }

    /// PEM `CERTIFICATE`.
    public var pem: String { PEM.encode(label: "CERTIFICATE", der: der) }

    /// The subject in RFC 2253 form.
    public var subject: String { Self.name(X509_get_subject_name(handle.pointer)) }
    /// The issuer in RFC 2253 form.
    public var issuer: String { Self.name(X509_get_issuer_name(handle.pointer)) }

    static func name(_ name: OpaquePointer?) -> String {
        guard let name, let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        // XN_FLAG_RFC2253 = ASN1_STRFLGS_RFC2253 (0x317) | XN_FLAG_SEP_COMMA_PLUS (0x10000)
        // | XN_FLAG_DN_REV (0x100000) | XN_FLAG_FN_SN (0) | XN_FLAG_DUMP_UNKNOWN_FIELDS (0x1000000),
        // a composite macro Swift cannot import.
        guard X509_NAME_print_ex(bio, name, 0, 0x111_0317) >= 0 else { return "" }
        var data: UnsafeMutablePointer<CChar>?
        let length = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data)
        guard length > 0, let data else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    /// The serial number's big-endian magnitude (real AMD VCEKs have serial 0: one zero byte).
    public var serialNumber: [UInt8] {
        guard let serial = X509_get0_serialNumber(handle.pointer), let bn = ASN1_INTEGER_to_BN(serial, nil) else {
            return []
        }
        defer { BN_free(bn) }
        let bytes = BigNumber.bytes(bn)
        return bytes.isEmpty ? [0] : bytes
    }

    /// Start of validity.
    public var notBefore: Timestamp { Self.timestamp(X509_get0_notBefore(handle.pointer)) }
    /// End of validity.
    public var notAfter: Timestamp { Self.timestamp(X509_get0_notAfter(handle.pointer)) }

    /// A UTCTime (1950–2049) or GeneralizedTime as a ``Timestamp``: OpenSSL parses it into calendar
    /// fields (`ASN1_TIME_to_tm`), which are converted without the C library's time zone state.
    /// ``Timestamp/distantPast`` when it is unreadable, so a bad notAfter never makes a certificate valid.
    static func timestamp(_ time: UnsafePointer<ASN1_TIME>?) -> Timestamp {
        var fields = tm()
        guard let time, ASN1_TIME_to_tm(time, &fields) == 1,
            let value = Timestamp(
                year: Int64(fields.tm_year) + 1900, month: Int(fields.tm_mon) + 1, day: Int(fields.tm_mday),
                hour: Int(fields.tm_hour), minute: Int(fields.tm_min), second: Int(fields.tm_sec))
        else { return .distantPast }
        return value
    }

    /// The signature algorithm's dotted OID (e.g. 1.2.840.113549.1.1.10 for RSASSA-PSS).
    public var signatureAlgorithmOID: String {
        let nid = X509_get_signature_nid(handle.pointer)
        guard let object = OBJ_nid2obj(nid) else { return "" }
        return Self.oidString(object)
    }

    static func oidString(_ object: OpaquePointer) -> String {
        var buffer = [CChar](repeating: 0, count: 128)
        let length = OBJ_obj2txt(&buffer, Int32(buffer.count), object, 1)
        guard length > 0 else { return "" }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The DER contents of the extension `oid`'s extnValue OCTET STRING, or nil when absent.
    public func extensionValue(oid: String) -> [UInt8]? {
        let count = X509_get_ext_count(handle.pointer)
        for index in 0..<count {
            guard let ext = X509_get_ext(handle.pointer, index), let object = X509_EXTENSION_get_object(ext),
                Self.oidString(object) == oid, let data = X509_EXTENSION_get_data(ext)
            else { continue }
            let length = Int(ASN1_STRING_length(data))
            guard let bytes = ASN1_STRING_get0_data(data), length >= 0 else { return [] }
            return Array(UnsafeBufferPointer(start: bytes, count: length))
        }
        return nil
    }

    /// Whether this certificate's signature verifies under `issuer`'s public key (RSA-PSS, PKCS#1, ECDSA).
    /// Calls `X509_verify`; checks the signature only, not names or validity.
    public func isSignature(issuedBy issuer: Certificate) -> Bool {
        guard let key = X509_get0_pubkey(issuer.handle.pointer) else { return false }
        defer { _ = CryptoError.drainErrorQueue() }
        return X509_verify(handle.pointer, key) == 1
    }

    /// SHA-256 of the DER SubjectPublicKeyInfo: the fingerprint trust anchors are pinned by.
    public var spkiSHA256: [UInt8] {
        guard let key = X509_get0_pubkey(handle.pointer) else { return [] }
        return DigestAlgorithm.sha256.hash(PublicKey.spki(key))
    }

    /// Whether `at` lies within the validity period.
    public func isValid(at date: Timestamp) -> Bool {
        date >= notBefore && date <= notAfter
    }
}
