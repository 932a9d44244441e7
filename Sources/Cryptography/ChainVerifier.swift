// SPDX-License-Identifier: Apache-2.0
// X.509 chain validation with OpenSSL's X509_verify_cert at a caller-given time.

import AgentBase
import COpenSSL

/// Chain validation with OpenSSL's `X509_verify_cert` at a fixed time.
public enum ChainVerifier {
    /// Verifies `leaf` up to one of `roots` through `intermediates` at `at`. Returns the failure
    /// reasons (empty when the chain is valid).
    public static func verify(
        leaf: Certificate, intermediates: [Certificate], roots: [Certificate], at date: Timestamp
    ) -> [String] {
        guard let store = X509_STORE_new() else { return ["failed to allocate a certificate store"] }
        defer { X509_STORE_free(store) }
        for root in roots where X509_STORE_add_cert(store, root.handle.pointer) != 1 {
            _ = CryptoError.drainErrorQueue()
        }
        guard let untrusted = OPENSSL_sk_new_null() else { return ["failed to allocate a stack"] }
        defer { OPENSSL_sk_free(untrusted) }
        for certificate in intermediates {
            _ = OPENSSL_sk_push(untrusted, UnsafeRawPointer(certificate.handle.pointer))
        }
        guard let context = X509_STORE_CTX_new() else { return ["failed to allocate a verification context"] }
        defer { X509_STORE_CTX_free(context) }
        guard X509_STORE_CTX_init(context, store, leaf.handle.pointer, untrusted) == 1 else {
            return ["failed to initialise chain verification"]
        }
        X509_STORE_CTX_set_time(context, 0, time_t(date.secondsSinceEpoch))
        defer { _ = CryptoError.drainErrorQueue() }
        if X509_verify_cert(context) == 1 { return [] }
        let code = X509_STORE_CTX_get_error(context)
        let depth = X509_STORE_CTX_get_error_depth(context)
        let reason = X509_verify_cert_error_string(Int(code)).map { String(cString: $0) } ?? "error \(code)"
        return ["certificate chain: \(reason) (at depth \(depth))"]
    }
}
