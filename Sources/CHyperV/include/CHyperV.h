// SPDX-License-Identifier: Apache-2.0
// CPUID, which Swift cannot issue, for the Hyper-V isolation leaves; imported by TEEDevice only.
#ifndef CHYPERV_H
#define CHYPERV_H
#include <stdint.h>

/// Executes CPUID with EAX = leaf, ECX = 0 and stores EAX..EDX in regs[0..3]. Returns 0, or -1 on a CPU
/// without CPUID (not x86): regs is then all zero.
int cca_cpuid(uint32_t leaf, uint32_t regs[4]);

#endif
