// SPDX-License-Identifier: Apache-2.0
// HKDF extract-and-expand (RFC 5869) through OpenSSL's EVP_KDF interface with OSSL_PARAMs.

import COpenSSL
import SecureMemory

/// Owns an `EVP_KDF_CTX` (and the fetched `EVP_KDF` it was made from).
private final class KDFContext {
    let pointer: OpaquePointer

    init(algorithm: String) throws {
        guard let kdf = EVP_KDF_fetch(nil, algorithm, nil) else {
            throw CryptoError(.internalFailure, "failed to fetch the \(algorithm) KDF")
        }
        defer { EVP_KDF_free(kdf) }  // the context holds its own reference
        guard let pointer = EVP_KDF_CTX_new(kdf) else {
            throw CryptoError(.internalFailure, "failed to create a \(algorithm) context")
        }
        self.pointer = pointer
    }

    deinit { EVP_KDF_CTX_free(pointer) }
}

/// HKDF extract-and-expand (RFC 5869).
public enum HKDF {
    /// Derives `outputByteCount` bytes into zeroizing memory. An empty salt means HashLen zero bytes
    /// (RFC 5869 §2.2). Calls `EVP_KDF_derive` on the "HKDF" KDF.
    public static func derive(
        _ alg: DigestAlgorithm, inputKeyMaterial: SecretBytes, salt: [UInt8], info: [UInt8], outputByteCount: Int
    ) throws -> SecretBytes {
        guard outputByteCount > 0, outputByteCount <= 255 * alg.outputByteCount else {
            throw CryptoError(
                .invalidInput,
                "failed to derive a key: \(outputByteCount) bytes is outside 1...\(255 * alg.outputByteCount)")
        }
        guard inputKeyMaterial.count > 0 else {
            throw CryptoError(.invalidKey, "failed to derive a key: the input key material is empty")
        }
        let context = try KDFContext(algorithm: "HKDF")
        var digestName = Array(alg.openSSLName.utf8CString)
        var saltCopy = salt
        var infoCopy = info
        return try SecretBytes(count: outputByteCount) { out in
            let derived = inputKeyMaterial.withUnsafeBytes { ikm in
                digestName.withUnsafeMutableBufferPointer { name in
                    saltCopy.withUnsafeMutableBytes { saltBytes in
                        infoCopy.withUnsafeMutableBytes { infoBytes in
                            // OSSL_PARAMs hold pointers: every buffer above outlives the derive call.
                            var params = [
                                OSSL_PARAM_construct_utf8_string(cString("digest"), name.baseAddress, 0),
                                OSSL_PARAM_construct_octet_string(
                                    cString("key"), UnsafeMutableRawPointer(mutating: ikm.baseAddress), ikm.count),
                            ]
                            if saltBytes.count > 0 {
                                params.append(
                                    OSSL_PARAM_construct_octet_string(
                                        cString("salt"), saltBytes.baseAddress, saltBytes.count))
                            }
                            if infoBytes.count > 0 {
                                params.append(
                                    OSSL_PARAM_construct_octet_string(
                                        cString("info"), infoBytes.baseAddress, infoBytes.count))
                            }
                            params.append(OSSL_PARAM_construct_end())
                            return EVP_KDF_derive(
                                context.pointer, out.baseAddress?.assumingMemoryBound(to: UInt8.self), out.count,
                                &params)
                        }
                    }
                }
            }
            guard derived == 1 else { throw CryptoError(.internalFailure, "failed to derive an HKDF key") }
        }
    }
}
