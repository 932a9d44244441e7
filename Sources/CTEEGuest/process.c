// SPDX-License-Identifier: Apache-2.0
// Process hardening that needs a variadic libc call.
#include "process_abi.h"

#include <errno.h>
#include <sys/prctl.h>

int cca_disable_dumping(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : -errno; }
