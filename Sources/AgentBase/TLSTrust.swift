// SPDX-License-Identifier: Apache-2.0
// How the broker's TLS certificate is trusted: one type from the configuration to libcurl.

/// How the broker's TLS certificate is trusted.
public enum TLSTrust: Sendable, Equatable {
    /// The system CA bundle.
    case systemCAs
    /// A PEM CA file (e.g. `/etc/ccagent/broker-ca.pem`, installed into the initramfs).
    case caFile(String)
    /// SHA-256 of the broker's SubjectPublicKeyInfo (32 bytes); the CA chain is then not consulted.
    case pinnedSPKISHA256([UInt8])
}
