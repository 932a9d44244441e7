// SPDX-License-Identifier: Apache-2.0
// Random bytes from OpenSSL's CSPRNG.

import COpenSSL
import SecureMemory

/// The process's CSPRNG (OpenSSL `RAND_bytes`, seeded from getrandom).
public enum SecureRandom {
    /// Random non-secret bytes (nonces, salts, session ids).
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return out }
        precondition(RAND_bytes(&out, Int32(count)) == 1, "the system CSPRNG failed")
        return out
    }

    /// Random secret bytes (keys), generated straight into zeroizing memory.
    public static func secret(_ count: Int) -> SecretBytes {
        SecretBytes(count: count) { buffer in
            guard let base = buffer.baseAddress, count > 0 else { return }
            precondition(
                RAND_bytes(base.assumingMemoryBound(to: UInt8.self), Int32(count)) == 1, "the system CSPRNG failed")
        }
    }
}
