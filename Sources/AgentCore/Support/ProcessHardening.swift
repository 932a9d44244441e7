// SPDX-License-Identifier: Apache-2.0
// Process hardening at start-up: no core dumps (they would hold released keys).

#if canImport(Glibc)
import Glibc
#endif

public enum ProcessHardening {
    /// Sets RLIMIT_CORE to 0 so a crash never writes key material to disk. (Key pages are also
    /// mlocked and zeroized by SecretBytes.)
    public static func apply() {
        var limit = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit)
    }
}
