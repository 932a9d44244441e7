// SPDX-License-Identifier: Apache-2.0
// Umbrella header for the guest TEE kernel ABI shim (SEV-SNP /dev/sev-guest, TDX /dev/tdx_guest).
#ifndef CTEEGUEST_H
#define CTEEGUEST_H
#include "sev_guest_abi.h"
#include "tdx_guest_abi.h"
#endif
