// SPDX-License-Identifier: Apache-2.0
// Umbrella header for the guest TEE kernel ABI shim (SEV-SNP /dev/sev-guest, TDX /dev/tdx_guest).
#ifndef CTEEGUEST_H
#define CTEEGUEST_H
#include <stdint.h>

/// Returns the shim's ABI revision (placeholder until the ioctl wrappers land).
int cca_abi_revision(void);

#endif
