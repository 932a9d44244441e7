// SPDX-License-Identifier: Apache-2.0
// Guest TEE kernel ABI shim: one C function per ioctl, each returning 0 or -errno.
#include "CTEEGuest.h"

int cca_abi_revision(void) { return 1; }
