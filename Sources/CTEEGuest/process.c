// SPDX-License-Identifier: Apache-2.0
// Process hardening that needs a variadic libc call.
#include "process_abi.h"

#include <errno.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <unistd.h>

int cca_disable_dumping(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : -errno; }

int cca_power_off(void) {
    sync();
    return reboot(RB_POWER_OFF) == 0 ? 0 : -errno;
}
