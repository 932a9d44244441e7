// SPDX-License-Identifier: Apache-2.0
// Umbrella header for OpenSSL libssl (TLS client side); imported only by the HTTPClient module.
//
// libssl's API is typed in libcrypto's X509 and EVP types, so this module also reaches the few libcrypto
// calls a TLS client needs (the peer certificate's SubjectPublicKeyInfo, SHA-256, the error queue). Several
// libssl and BIO controls are function-like macros, which Swift cannot call; these typed inline forwarders
// are the only C in this module.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

static inline int cca_ssl_ctx_set_min_tls12(SSL_CTX *context) {
    return (int)SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
}

static inline int cca_ssl_set_sni(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

static inline long cca_bio_pending(BIO *bio) {
    return (long)BIO_pending(bio);
}

/// A memory BIO that reports "retry" (not EOF) when empty: the socket, not the BIO, decides EOF.
static inline void cca_bio_set_retry_when_empty(BIO *bio) {
    (void)BIO_set_mem_eof_return(bio, -1);
}
