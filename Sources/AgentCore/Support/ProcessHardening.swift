// SPDX-License-Identifier: Apache-2.0
// Process hardening at start-up: not dumpable, no core dumps (they would hold released keys).

import ProcessControl

#if canImport(Glibc)
import Glibc
#endif

public enum ProcessHardening {
    /// Marks the process non-dumpable (PR_SET_DUMPABLE 0: no core dump, no same-uid ptrace) and sets
    /// RLIMIT_CORE to 0, so a crash never writes key material to disk. (Key pages are also mlocked and
    /// zeroized by SecretBytes.)
    public static func apply() {
        ProcessControls.disableDumping()
        var limit = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit)
    }
}
