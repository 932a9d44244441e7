// SPDX-License-Identifier: Apache-2.0
// cca_cpuid: one CPUID instruction (unprivileged; a hypervisor answers the 0x4000_0000 range).
#include "CHyperV.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

int cca_cpuid(uint32_t leaf, uint32_t regs[4]) {
    __cpuid_count(leaf, 0, regs[0], regs[1], regs[2], regs[3]);
    return 0;
}
#else
int cca_cpuid(uint32_t leaf, uint32_t regs[4]) {
    (void)leaf;
    regs[0] = regs[1] = regs[2] = regs[3] = 0;
    return -1;
}
#endif
