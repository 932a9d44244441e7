// SPDX-License-Identifier: Apache-2.0
// The /dev/tdx_guest ABI, redeclared because Debian 12's headers lack <linux/tdx-guest.h> (Linux 6.2+).
#ifndef CCA_TDX_GUEST_ABI_H
#define CCA_TDX_GUEST_ABI_H
#include <stdint.h>

/// struct tdx_report_req: reportdata[64] (TDREPORTDATA) then tdreport[1024] (TDREPORT_STRUCT).
struct cca_tdx_report_req {
    uint8_t reportdata[64];
    uint8_t tdreport[1024];
};

/// TDX_CMD_GET_REPORT0 = _IOWR('T', 1, struct tdx_report_req /* 1088 B */)
/// = 3 << 30 | 1088 (0x440) << 16 | 'T' (0x54) << 8 | 1 = 0xC4405401.
extern const unsigned long CCA_TDX_CMD_GET_REPORT0;

/// TDX_CMD_GET_REPORT0. Returns 0 or -errno.
int cca_tdx_get_report0(int fd, struct cca_tdx_report_req *req);

#endif
