// SPDX-License-Identifier: Apache-2.0
// Process controls through the CProcess shim: not dumpable, and the fail-closed power-off.

import CProcess

/// Process controls that go through the shim.
public enum ProcessControls {
    /// PR_SET_DUMPABLE 0: the kernel writes no core dump and refuses same-uid ptrace. Returns 0 or -errno.
    @discardableResult
    public static func disableDumping() -> Int32 { cca_disable_dumping() }

    /// sync(), then power the machine off at once (reboot(RB_POWER_OFF)). Returns -errno only when the
    /// kernel refused (no CAP_SYS_BOOT); otherwise it does not return.
    public static func powerOff() -> Int32 { cca_power_off() }
}
