// SPDX-License-Identifier: Apache-2.0
// Process controls Swift cannot call directly (prctl is variadic).
#ifndef CCA_PROCESS_ABI_H
#define CCA_PROCESS_ABI_H

/// prctl(PR_SET_DUMPABLE, 0): no core dumps, and no ptrace attach by same-uid processes. 0 or -errno.
int cca_disable_dumping(void);

/// sync(), then reboot(RB_POWER_OFF): the machine stops at once (needs CAP_SYS_BOOT). -errno on failure.
int cca_power_off(void);

#endif
