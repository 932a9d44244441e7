// SPDX-License-Identifier: Apache-2.0
// Process controls through the CProcess shim: not dumpable, and the fail-closed power-off.

import CProcess

#if canImport(Glibc)
import Glibc
#endif

/// Process controls that go through the shim.
public enum ProcessControls {
    /// PR_SET_DUMPABLE 0: the kernel writes no core dump and refuses same-uid ptrace. Returns 0 or -errno.
    @discardableResult
    public static func disableDumping() -> Int32 { cca_disable_dumping() }

    /// sync(), then power the machine off at once (reboot(RB_POWER_OFF)). Returns -errno only when the
    /// kernel refused (no CAP_SYS_BOOT); otherwise it does not return.
    public static func powerOff() -> Int32 { cca_power_off() }

    /// posix_spawn attributes giving the child an empty signal mask and default handlers for SIGTERM,
    /// SIGINT, SIGPIPE and SIGHUP: the agent (and the test runner) block signals for their own handling, and
    /// a child inheriting that would ignore the SIGTERM that stops it. The caller destroys the attributes.
    public static func cleanSignalSpawnAttributes() -> posix_spawnattr_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        return attributes
    }
}
